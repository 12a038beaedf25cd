package org.pathlingrelay.outbox;

/** Event numbers {@code first} to {@code last} of a topic subscription that never arrived. */
public record MissedEvents(String subscription, long first, long last) {}
