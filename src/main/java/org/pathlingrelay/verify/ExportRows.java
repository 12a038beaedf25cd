package org.pathlingrelay.verify;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.source.FhirInstants;

/**
 * The rows of an exported NDJSON file: only {@code id} and {@code meta} of each line are read,
 * with a streaming parser and a line at a time, whatever else the line holds (a source may ignore
 * {@code _elements}), so a file of millions never sits in memory.
 */
final class ExportRows {

  /** A line that is not a resource with an id: the listing cannot be trusted. */
  static final class BadLineException extends RuntimeException {
    BadLineException(String message) {
      super(message);
    }
  }

  private final JsonFactory factory = new JsonFactory();
  private final int batchSize;

  /** @param batchSize rows handed to the sink at a time */
  ExportRows(int batchSize) {
    this.batchSize = batchSize;
  }

  /**
   * Reads every line of {@code in} into {@code sink}; returns the rows read.
   *
   * @throws IOException when the stream breaks off (worth reading again)
   * @throws BadLineException when a line is not a resource with an id (not worth it)
   */
  long read(InputStream in, RowSink sink) throws IOException, SQLException {
    BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    List<ListedRow> batch = new ArrayList<>(batchSize);
    long rows = 0;
    long number = 0;
    String line;
    while ((line = lines.readLine()) != null) {
      number++;
      Optional<ListedRow> row = row(line, number);
      if (row.isEmpty()) {
        continue;
      }
      batch.add(row.get());
      rows++;
      if (batch.size() >= batchSize) {
        sink.add(batch);
        batch = new ArrayList<>(batchSize);
      }
    }
    if (!batch.isEmpty()) {
      sink.add(batch);
    }
    return rows;
  }

  /** The row of one line; empty for a blank one. */
  Optional<ListedRow> row(String line, long number) {
    if (line.isBlank()) {
      return Optional.empty();
    }
    String id = null;
    String versionId = null;
    String lastUpdated = null;
    try (JsonParser parser = factory.createParser(line)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new BadLineException("line " + number + " is not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("id".equals(field) && value == JsonToken.VALUE_STRING) {
          id = parser.getText();
        } else if ("meta".equals(field) && value == JsonToken.START_OBJECT) {
          while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            JsonToken metaValue = parser.nextToken();
            if ("versionId".equals(name) && metaValue == JsonToken.VALUE_STRING) {
              versionId = parser.getText();
            } else if ("lastUpdated".equals(name) && metaValue == JsonToken.VALUE_STRING) {
              lastUpdated = parser.getText();
            } else {
              parser.skipChildren();
            }
          }
        } else {
          parser.skipChildren();
        }
      }
    } catch (JsonProcessingException e) {
      throw new BadLineException("line " + number + " is not valid JSON: "
          + e.getOriginalMessage().lines().findFirst().orElse(""));
    } catch (IOException e) {
      throw new BadLineException("line " + number + " cannot be read: " + e.getMessage());
    }
    if (id == null || id.isBlank()) {
      throw new BadLineException("line " + number + " has no id");
    }
    return Optional.of(new ListedRow(id, VersionStamp.parseVersionNumber(versionId), millis(lastUpdated)));
  }

  private static Long millis(String lastUpdated) {
    if (lastUpdated == null) {
      return null;
    }
    try {
      return FhirInstants.parse(lastUpdated).toEpochMilli();
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
