package org.pathlingrelay.verify;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ChangeAppender;
import org.pathlingrelay.outbox.Disposition;
import org.pathlingrelay.outbox.ResourceJson;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.source.SourceListing;

/**
 * Mends what a check finds, through the outbox only: the source's current version of each missing
 * or stale resource is queued as an upsert, each extra one as a delete, for the forwarder to send.
 * Duplicated rows are only counted: a delete and a fresh copy mend them (see the README).
 */
public final class Repair implements Differences {

  /** Ids read from the source in one {@code _id} search, and queued in one append. */
  static final int CHUNK = 100;

  private final SourceListing source;
  private final ChangeAppender outbox;
  private final IParser json;
  private final List<String> toRead = new ArrayList<>(CHUNK);
  private final List<Change> deletes = new ArrayList<>(CHUNK);
  private final Set<String> typesWithExtras = new HashSet<>();
  private String type;
  private final Counts counts = new Counts();

  /** What the repair queued, and what it could not. */
  public static final class Counts {
    private long upserts;
    private long deletes;
    private long alreadyPending;
    private long goneFromSource;
    private long duplicated;

    public long upserts() {
      return upserts;
    }

    public long deletes() {
      return deletes;
    }

    /** Changes the outbox already held at the same version or newer: on their way. */
    public long alreadyPending() {
      return alreadyPending;
    }

    /** Missing or stale ids the source no longer had when read: deleted meanwhile. */
    public long goneFromSource() {
      return goneFromSource;
    }

    public long duplicated() {
      return duplicated;
    }
  }

  public Repair(SourceListing source, ChangeAppender outbox, FhirContext fhirContext) {
    this.source = source;
    this.outbox = outbox;
    this.json = fhirContext.newJsonParser();
  }

  @Override
  public void found(String type, DifferenceKind kind, String id) {
    if (!type.equals(this.type)) {
      flush();
      this.type = type;
    }
    switch (kind) {
      case MISSING, STALE -> {
        toRead.add(id);
        if (toRead.size() >= CHUNK) {
          flushReads();
        }
      }
      case EXTRA -> {
        if (typesWithExtras.add(type)) {
          // The outbox skips a delete of what it believes Pathling cannot hold (deleted there
          // already, or created after the last bulk load and never forwarded). The check has just
          // seen Pathling hold it: record that, so the delete is sent.
          await(outbox.recordSeenInPathling(List.of(type)));
        }
        deletes.add(Change.delete(new ResourceKey(type, id), VersionStamp.UNKNOWN));
        if (deletes.size() >= CHUNK) {
          flushDeletes();
        }
      }
      case DUPLICATED -> counts.duplicated++;
    }
  }

  @Override
  public void typeDone(String type) {
    flush();
  }

  public Counts counts() {
    return counts;
  }

  private void flush() {
    flushReads();
    flushDeletes();
  }

  private void flushReads() {
    if (toRead.isEmpty()) {
      return;
    }
    List<Change> upserts = new ArrayList<>(toRead.size());
    source.current(type, toRead, resources -> {
      for (IBaseResource resource : resources) {
        upserts.add(upsertOf(type, resource));
      }
    });
    counts.goneFromSource += toRead.size() - upserts.size();
    toRead.clear();
    List<Disposition> dispositions = await(outbox.resend(upserts));
    tally(dispositions, true);
  }

  private void flushDeletes() {
    if (deletes.isEmpty()) {
      return;
    }
    tally(await(outbox.resend(List.copyOf(deletes))), false);
    deletes.clear();
  }

  private void tally(List<Disposition> dispositions, boolean upserts) {
    for (Disposition disposition : dispositions) {
      if (disposition == Disposition.STALE) {
        counts.alreadyPending++;
      } else if (upserts) {
        counts.upserts++;
      } else {
        counts.deletes++;
      }
    }
  }

  private Change upsertOf(String type, IBaseResource resource) {
    String id = resource.getIdElement().getIdPart();
    VersionStamp stamp = new VersionStamp(
        VersionStamp.parseVersionNumber(resource.getMeta().getVersionId()),
        resource.getMeta().getLastUpdated() == null ? null : resource.getMeta().getLastUpdated().getTime());
    return Change.upsert(new ResourceKey(type, id), stamp, ResourceJson.of(json.encodeResourceToString(resource)));
  }

  private static <T> T await(CompletableFuture<T> stored) {
    try {
      return stored.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException cause ? cause : e;
    }
  }
}
