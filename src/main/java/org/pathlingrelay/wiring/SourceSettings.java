package org.pathlingrelay.wiring;

import org.pathlingrelay.auth.AccessTokens;

/** The source FHIR server a backfill, sync or catch-up exports from. */
public record SourceSettings(String sourceUrl, AccessTokens tokens, int downloadConcurrency) {}
