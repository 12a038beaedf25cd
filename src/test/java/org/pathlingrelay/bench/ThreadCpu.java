package org.pathlingrelay.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * CPU time of this JVM's threads, by name, between two snapshots. A server's CPU per request is
 * what its throughput costs on any machine, and noise from other processes moves it far less than
 * it moves requests a second.
 */
final class ThreadCpu {

  private record Sample(String name, long cpuNanos) {}

  private final Map<Long, Sample> samples;

  private ThreadCpu(Map<Long, Sample> samples) {
    this.samples = samples;
  }

  static ThreadCpu snapshot() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Map<Long, Sample> samples = new HashMap<>();
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info != null) {
        long cpu = threads.getThreadCpuTime(info.getThreadId());
        if (cpu >= 0) {
          samples.put(info.getThreadId(), new Sample(info.getThreadName(), cpu));
        }
      }
    }
    return new ThreadCpu(samples);
  }

  /**
   * CPU spent since {@code before} by the threads whose names match; a thread started since
   * counts from zero, and one that ended since is lost (pools keep theirs for a minute).
   */
  long nanosSince(ThreadCpu before, Predicate<String> name) {
    long total = 0;
    for (Map.Entry<Long, Sample> now : samples.entrySet()) {
      if (name.test(now.getValue().name())) {
        Sample then = before.samples.get(now.getKey());
        total += now.getValue().cpuNanos() - (then == null ? 0 : then.cpuNanos());
      }
    }
    return total;
  }
}
