package org.pathlingrelay.http;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** How a client waits between attempts and polls; a dependency so that tests need not wait. */
@FunctionalInterface
public interface Pause {

  void pause(Duration duration) throws InterruptedException;

  Pause SLEEP = duration -> TimeUnit.NANOSECONDS.sleep(duration.toNanos());
}
