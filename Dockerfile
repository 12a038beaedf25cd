# pathling-relay container image.
#
#   docker build -t pathling-relay .
#   docker run -e RELAY_SECRET=... -e PATHLING_URL=http://pathling:8080/fhir \
#     -v relay-data:/data -p 8080:8080 pathling-relay
#
# Every option of the jar can be set through its environment variable (see the README's
# configuration tables). Other commands run the same way:
#   docker run --rm -v relay-data:/data pathling-relay dead-letters list

# ---- build: the shaded jar ----
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /build

# The dependencies first, in their own layer, so that it is reused until pom.xml changes.
COPY pom.xml ./
RUN mvn -B -q dependency:go-offline

COPY src ./src
# Not offline: go-offline misses a few artifacts that plugins only resolve when they run.
RUN mvn -B -q package -DskipTests

# ---- runtime: a JRE and the jar ----
# Ubuntu 24.04 (noble), the OS behind the plain 17-jre tag, pinned so that curl (used by the
# HEALTHCHECK below, installed by the Temurin image itself) and glibc (for sqlite-jdbc's native
# library) do not change under us.
FROM eclipse-temurin:17-jre-noble

LABEL org.opencontainers.image.title="pathling-relay" \
      org.opencontainers.image.description="Keeps a Pathling server in sync with a source FHIR server through rest-hook subscriptions and a durable outbox."

# A fixed, unprivileged uid/gid (the image's own "ubuntu" user already has 1000). The data and
# staging dirs belong to it, so named volumes mounted there start out writable by it.
RUN groupadd --gid 10001 relay \
 && useradd --uid 10001 --gid relay --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin relay \
 && mkdir -p /app /data /staging \
 && chown relay:relay /data /staging

COPY --from=build /build/target/pathling-relay.jar /app/pathling-relay.jar

# RELAY_DATA_DIR holds the outbox (relay.db); RELAY_STAGING_DIR is where `backfill --load import`
# writes NDJSON for Pathling to read, so it must be a volume shared with Pathling when used.
ENV RELAY_DATA_DIR=/data \
    RELAY_PORT=8080 \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"

VOLUME ["/data"]
WORKDIR /app
USER relay:relay
EXPOSE 8080

# /readyz answers 200 once the outbox takes durable writes (Pathling being down does not make the
# relay unready). Shell form, so that a changed RELAY_PORT is followed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${RELAY_PORT:-8080}/readyz" || exit 1

ENTRYPOINT ["java", "-jar", "/app/pathling-relay.jar"]
CMD ["serve"]
