package org.pathlingrelay.cli;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.pathlingrelay.verify.ListingChoice;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code pathling-relay verify}: whether Pathling holds what the source holds, type by type, and
 * with {@code --repair} the difference mended through the outbox.
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    description = "Compare the ids and versions Pathling holds with the source's; --repair mends the difference"
        + " through the outbox. Exit 0 when they match, " + VerifyRunner.DIFFERENT + " when they differ.")
final class VerifyCommand implements Callable<Integer> {

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin SourceAccess source;
  @Mixin PathlingOptions pathling;

  @Option(names = "--type", split = ",",
      description = "Resource types to compare (default: every type the source serves that either side holds).")
  List<String> types;

  /** {@code subscribe}'s old spelling, accepted here too: one spelling per idea, both work. */
  @Option(names = "--types", split = ",", hidden = true)
  void typesAlias(List<String> types) {
    this.types = types;
  }

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Option(names = "--repair", description = "Queue the source's copy of each missing or stale resource and a delete"
      + " of each extra one, forward them (or let a running serve do it), then check again.")
  boolean repair;

  @Option(names = "--page-size", defaultValue = "1000", description = "Ids asked for in one search page (_count)."
      + " Default: ${DEFAULT-VALUE}")
  int pageSize;

  @Option(names = "--source-listing", defaultValue = "auto", description = "How the source's ids are listed: search"
      + " ([type]?_elements=id,meta page by page), export (one bulk $export of those types) or auto (export for a"
      + " type above --export-listing-above when the source's CapabilityStatement offers $export, else search)."
      + " Default: ${DEFAULT-VALUE}")
  ListingChoice.Mode sourceListing;

  @Option(names = "--export-listing-above", defaultValue = "" + ListingChoice.DEFAULT_EXPORT_ABOVE,
      description = "With --source-listing auto: the source count above which a type is listed by export (an"
      + " export takes minutes on HAPI, whatever its size). Default: ${DEFAULT-VALUE}")
  long exportListingAbove;

  @Option(names = "--forward-stall-timeout", defaultValue = "5m", description = "With --repair: give up (exit 5,"
      + " keeping the queue) when no change reaches Pathling for this long. Env RELAY_FORWARD_STALL_TIMEOUT."
      + " Default: ${DEFAULT-VALUE}")
  Duration forwardStallTimeout;

  @Override
  public Integer call() throws Exception {
    List<String> checkedTypes = ResourceTypeNames.checked(spec, types);
    if (pageSize < 1) {
      throw new ParameterException(spec.commandLine(), "--page-size must be at least 1");
    }
    if (forwardStallTimeout.isNegative() || forwardStallTimeout.isZero()) {
      throw new ParameterException(spec.commandLine(), "--forward-stall-timeout must be positive");
    }
    if (exportListingAbove < 0) {
      throw new ParameterException(spec.commandLine(), "--export-listing-above must not be negative");
    }
    VerifyRunner.Request request = new VerifyRunner.Request(
        common.dataDir, source.sourceUrl, source.tokens(), pathling.forwarding(), checkedTypes, pageSize,
        new ListingChoice(sourceListing, exportListingAbove), repair, forwardStallTimeout);
    return VerifyRunner.run(request, json, spec.commandLine().getOut());
  }
}
