package org.pathlingrelay.backfill;

import java.time.Duration;
import java.time.InstantSource;

/**
 * How long a backfill puts up with forwarding that delivers nothing, and what it knows of why.
 *
 * @param stallTimeout give up after this long without a change delivered
 * @param trouble the forwarder's latest failure
 */
public record DeliveryWatch(Duration stallTimeout, ForwardingTrouble trouble, InstantSource clock) {

  public DeliveryWatch {
    if (stallTimeout.isNegative() || stallTimeout.isZero()) {
      throw new IllegalArgumentException("--forward-stall-timeout must be positive");
    }
  }

  /** Waits as long as it takes: inside {@code serve}, whose forwarder keeps trying and says why itself. */
  public static DeliveryWatch unbounded() {
    return new DeliveryWatch(
        Duration.ofDays(36_500), new ForwardingTrouble("the forwarder", InstantSource.system()), InstantSource.system());
  }
}
