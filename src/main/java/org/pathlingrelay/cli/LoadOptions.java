package org.pathlingrelay.cli;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.backfill.StagingAreas;
import org.pathlingrelay.source.ExportRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

/** How a backfill gets its data into Pathling. */
final class LoadOptions implements HelpSection {

  @Override
  public String heading() {
    return "Loading into Pathling";
  }

  @Option(names = "--load", defaultValue = "relay", description = "relay (through the outbox), import (Pathling's $import of staged files) or pnp (Pathling's $import-pnp). Env RELAY_LOAD. Default: ${DEFAULT-VALUE}")
  LoadMode load;

  @Option(names = "--staging-dir", description = "Where --load import writes NDJSON files. Env RELAY_STAGING_DIR.")
  Path stagingDir;

  @Option(names = "--staging-url", description = "How Pathling sees the staging dir, e.g. file:///usr/share/staging (default: file:// + the staging dir). Env RELAY_STAGING_URL.")
  String stagingUrl;

  @Option(names = "--keep-staged", description = "Keep the staged files after a successful import. Env RELAY_KEEP_STAGED.")
  boolean keepStaged;

  @Option(names = "--s3-endpoint", description = "S3-compatible endpoint (MinIO, Ceph) for an s3:// --staging-url. Env RELAY_S3_ENDPOINT.")
  String s3Endpoint;

  @Option(names = "--s3-region", description = "AWS region (default: the SDK's provider chain, e.g. AWS_REGION). Env RELAY_S3_REGION.")
  String s3Region;

  @Option(names = "--s3-path-style", description = "Path-style bucket addressing (most S3-compatible stores). Env RELAY_S3_PATH_STYLE.")
  boolean s3PathStyle;

  @Option(names = "--save-mode", defaultValue = "merge", description = "merge or overwrite (import and pnp). Env RELAY_SAVE_MODE. Default: ${DEFAULT-VALUE}")
  String saveMode;

  static final Duration DEFAULT_STALL_TIMEOUT = Duration.ofMinutes(5);

  @Option(names = "--forward-stall-timeout", defaultValue = "5m", description = "Give up (exit 5, keeping the queue for a rerun) when no change reaches Pathling for this long. Env RELAY_FORWARD_STALL_TIMEOUT. Default: ${DEFAULT-VALUE}")
  Duration forwardStallTimeout;

  /** S3 for an s3:// staging URL, built only when needed: credentials and region from the SDK's chain. */
  StagingAreas stagingAreas() {
    return StagingAreas.withS3(() -> {
      S3ClientBuilder builder = S3Client.builder()
          .httpClientBuilder(ApacheHttpClient.builder())
          .forcePathStyle(s3PathStyle);
      if (s3Region != null) {
        builder.region(Region.of(s3Region));
      }
      if (s3Endpoint != null) {
        builder.endpointOverride(URI.create(s3Endpoint));
      }
      return builder.build();
    });
  }

  Duration forwardStallTimeout(CommandSpec spec) {
    if (forwardStallTimeout.isNegative() || forwardStallTimeout.isZero()) {
      throw new ParameterException(spec.commandLine(), "--forward-stall-timeout must be positive");
    }
    return forwardStallTimeout;
  }

  BackfillPlan plan(CommandSpec spec, ExportRequest request, int downloadConcurrency, boolean sync) {
    Optional<BackfillPlan.Staging> staging = Optional.empty();
    try {
      if (stagingUrl != null && stagingUrl.startsWith("s3://")) {
        staging = Optional.of(new BackfillPlan.Staging(null, stagingUrl, keepStaged));
      } else if (stagingDir != null) {
        String url = stagingUrl != null ? stagingUrl : stagingDir.toAbsolutePath().normalize().toUri().toString();
        staging = Optional.of(new BackfillPlan.Staging(
            stagingDir, url.endsWith("/") ? url.substring(0, url.length() - 1) : url, keepStaged));
      }
      return new BackfillPlan(request, load, downloadConcurrency, sync, staging, saveMode.toLowerCase());
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }
}
