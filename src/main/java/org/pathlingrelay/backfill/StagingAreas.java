package org.pathlingrelay.backfill;

import java.net.URI;
import java.util.Optional;
import java.util.function.Supplier;
import software.amazon.awssdk.services.s3.S3Client;

/** Opens the staging area a plan names: a local folder, or S3 when the staging URL is s3://. */
public final class StagingAreas {

  private final Optional<Supplier<S3Client>> s3;

  private StagingAreas(Optional<Supplier<S3Client>> s3) {
    this.s3 = s3;
  }

  public static StagingAreas localOnly() {
    return new StagingAreas(Optional.empty());
  }

  /** @param s3 built on first use, so that runs without S3 never touch AWS configuration */
  public static StagingAreas withS3(Supplier<S3Client> s3) {
    return new StagingAreas(Optional.of(s3));
  }

  StagingArea open(BackfillPlan.Staging staging) {
    if (staging.onS3()) {
      return new S3Staging(
          s3.orElseThrow(() -> new IllegalStateException("S3 staging is not configured")).get(),
          URI.create(staging.url()));
    }
    return new LocalStaging(staging.dir(), staging.url());
  }
}
