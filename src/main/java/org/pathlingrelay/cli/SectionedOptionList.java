package org.pathlingrelay.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Renders a command's options in sections: its own first, then each {@link HelpSection} mixin
 * (nested ones after their host) under its heading. Hidden options stay hidden.
 */
final class SectionedOptionList implements CommandLine.IHelpSectionRenderer {

  @Override
  public String render(Help help) {
    CommandSpec spec = help.commandSpec();
    Map<String, List<OptionSpec>> sections = new LinkedHashMap<>();
    Set<OptionSpec> inSections = new LinkedHashSet<>();
    collect(spec, sections, inSections);
    List<OptionSpec> own = new ArrayList<>();
    for (OptionSpec option : spec.options()) {
      if (!option.hidden() && !inSections.contains(option)) {
        own.add(option);
      }
    }
    StringBuilder text = new StringBuilder();
    append(text, help, "Options", own);
    sections.forEach((heading, options) -> append(text, help, heading, options));
    return text.toString();
  }

  private static void collect(CommandSpec spec, Map<String, List<OptionSpec>> sections, Set<OptionSpec> seen) {
    for (CommandSpec mixin : spec.mixins().values()) {
      if (mixin.userObject() instanceof HelpSection section) {
        List<OptionSpec> options = sections.computeIfAbsent(section.heading(), heading -> new ArrayList<>());
        Set<OptionSpec> nested = new LinkedHashSet<>();
        collectAll(mixin, nested);
        for (OptionSpec option : mixin.options()) {
          if (!option.hidden() && !nested.contains(option) && seen.add(option)) {
            options.add(option);
          }
        }
      }
      collect(mixin, sections, seen);
    }
  }

  /** Options of the mixins nested in {@code spec} (their own section lists them). */
  private static void collectAll(CommandSpec spec, Set<OptionSpec> into) {
    for (CommandSpec mixin : spec.mixins().values()) {
      into.addAll(mixin.options());
      collectAll(mixin, into);
    }
  }

  private static void append(StringBuilder text, Help help, String heading, List<OptionSpec> options) {
    if (options.isEmpty()) {
      return;
    }
    Help.Layout layout = help.createDefaultLayout();
    Help.IParamLabelRenderer labels = help.parameterLabelRenderer();
    options.forEach(option -> layout.addOption(option, labels));
    text.append(String.format("%n%s:%n", heading)).append(layout);
  }
}
