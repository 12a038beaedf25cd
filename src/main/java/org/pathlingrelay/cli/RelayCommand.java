package org.pathlingrelay.cli;

import picocli.CommandLine.Command;

/** {@code pathling-relay}: the top-level command; the work is in its subcommands. */
@Command(
    name = "pathling-relay",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Keeps a Pathling server in sync with a source FHIR server.",
    subcommands = {ServeCommand.class, BackfillCommand.class, SyncCommand.class, VerifyCommand.class, SubscribeCommand.class, UnsubscribeCommand.class, DeadLettersCommand.class})
final class RelayCommand {}
