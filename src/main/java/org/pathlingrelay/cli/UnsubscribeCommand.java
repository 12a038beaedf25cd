package org.pathlingrelay.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.source.SourceClients;
import org.pathlingrelay.source.SubscriptionRegistrar;
import org.pathlingrelay.wiring.Parts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pathling-relay unsubscribe}: remove the relay's own Subscriptions from the source, and nothing else. */
@Command(
    name = "unsubscribe",
    mixinStandardHelpOptions = true,
    description = "Delete the Subscriptions the relay created (tagged urn:pathling-relay|managed) from the source.")
final class UnsubscribeCommand implements Callable<Integer> {

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin SourceAccess source;

  @Option(names = "--dry-run", description = "Print what would be removed, remove nothing.")
  boolean dryRun;

  @Override
  public Integer call() {
    SubscriptionRegistrar registrar = new SubscriptionRegistrar(
        SourceClients.fhirClient(Parts.newFhirContext(), source.sourceUrl, source.tokens()), Pause.SLEEP, Duration.ZERO);
    List<SubscriptionRegistrar.Outcome> outcomes = registrar.unsubscribe(dryRun);
    PrintWriter out = spec.commandLine().getOut();
    SubscribeCommand.print(out, outcomes);
    long removed = outcomes.stream().filter(o -> !o.failed()).count();
    long left = outcomes.size() - removed;
    out.println((dryRun ? "Would remove " : "Removed ") + removed + " Subscription(s).");
    if (left > 0) {
      out.println(left + " of the relay's Subscription(s) are still on the source; see above.");
    }
    out.flush();
    return left > 0 ? 1 : 0;
  }
}
