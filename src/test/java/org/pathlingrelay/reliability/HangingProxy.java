package org.pathlingrelay.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A TCP hop in front of a server that can turn into a Pathling that accepts connections and never
 * answers: in {@link #hang()} mode it takes each connection, reads whatever the client sends and
 * sends nothing back, until the client gives up and closes. In {@link #pass()} mode it pipes bytes
 * to and from the real server. It records each hung connection, so a test can see how often, how
 * long and how many at once the client tried.
 */
final class HangingProxy implements AutoCloseable {

  /** One connection that got no answer: when it came and when the client gave up on it. */
  static final class Hung {
    private final Instant accepted = Instant.now();
    private volatile Instant closed;

    Instant accepted() {
      return accepted;
    }

    /** Null while the client still waits. */
    Instant closed() {
      return closed;
    }

    Duration waited() {
      Instant end = closed;
      return Duration.between(accepted, end == null ? Instant.now() : end);
    }
  }

  private final int targetPort;
  private final ServerSocket server;
  private final ExecutorService threads = Executors.newCachedThreadPool(runnable -> {
    Thread thread = new Thread(runnable, "hanging-proxy");
    thread.setDaemon(true);
    return thread;
  });
  private final List<Hung> hung = new CopyOnWriteArrayList<>();
  private final Set<Socket> piped = ConcurrentHashMap.newKeySet();
  private volatile boolean hanging;

  HangingProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
    threads.execute(this::acceptLoop);
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getLocalPort() + "/fhir";
  }

  /**
   * From now on nothing is answered. Connections already piped are cut, as a hung Pathling's
   * kept-alive connections would be, so that every later request meets the silence.
   */
  void hang() {
    hanging = true;
    for (Socket socket : piped) {
      closeQuietly(socket);
    }
  }

  /** New connections reach the real server again; hung ones stay hung until their client gives up. */
  void pass() {
    hanging = false;
  }

  List<Hung> hungConnections() {
    return List.copyOf(hung);
  }

  /** The most hung connections open at once among those accepted at or after {@code since}. */
  int mostAtOnceSince(Instant since) {
    List<Hung> later = hung.stream().filter(h -> !h.accepted().isBefore(since)).toList();
    int most = 0;
    for (Hung one : later) {
      int atOnce = 0;
      for (Hung other : later) {
        Instant otherEnd = other.closed() == null ? Instant.MAX : other.closed();
        if (!other.accepted().isAfter(one.accepted()) && otherEnd.isAfter(one.accepted())) {
          atOnce++;
        }
      }
      most = Math.max(most, atOnce);
    }
    return most;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException closed) {
        return;
      }
      if (hanging) {
        Hung record = new Hung();
        hung.add(record);
        threads.execute(() -> swallow(client, record));
      } else {
        threads.execute(() -> pipe(client));
      }
    }
  }

  /** Reads until the client closes; answers nothing. */
  private static void swallow(Socket client, Hung record) {
    try (client; InputStream in = client.getInputStream()) {
      byte[] buffer = new byte[8192];
      while (in.read(buffer) >= 0) {
        // the request is taken in, and ignored
      }
    } catch (IOException clientGaveUp) {
      // a reset is the client giving up too
    } finally {
      record.closed = Instant.now();
    }
  }

  private void pipe(Socket client) {
    try (client; Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort)) {
      piped.add(client);
      threads.execute(() -> copy(upstream, client));
      copy(client, upstream);
    } catch (IOException e) {
      // either side went away: the connection is over
    } finally {
      piped.remove(client);
    }
  }

  private static void copy(Socket from, Socket to) {
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      byte[] buffer = new byte[65536];
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // closed on one side
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    piped.forEach(HangingProxy::closeQuietly);
    threads.shutdownNow();
  }
}
