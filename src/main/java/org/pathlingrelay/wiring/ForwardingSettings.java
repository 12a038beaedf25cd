package org.pathlingrelay.wiring;

import java.time.Duration;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.forward.Linger;
import org.pathlingrelay.pathling.ResilienceSettings;

/** Everything a forwarder needs to know, whichever command runs it. */
public record ForwardingSettings(
    String pathlingUrl,
    AccessTokens pathlingTokens,
    Duration pathlingTimeout,
    ForwardMode mode,
    int batchMax,
    Linger linger,
    int parallelTypes,
    ResilienceSettings resilience) {}
