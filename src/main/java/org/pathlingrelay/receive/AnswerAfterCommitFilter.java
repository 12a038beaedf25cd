package org.pathlingrelay.receive;

import ca.uhn.fhir.context.FhirContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.OperationOutcome.IssueSeverity;
import org.hl7.fhir.r4.model.OperationOutcome.IssueType;

/**
 * Lets a request thread go back to the pool while its change is committed, instead of blocking
 * on the commit: HAPI's answer is held in a {@link BufferedResponse} and sent only once the
 * outbox has the change on disk, or replaced by a 503 if it cannot get there in time. Blocked
 * threads cost a park, a wake-up and a context switch each, and capped how many notifications
 * could share one commit.
 */
final class AnswerAfterCommitFilter implements Filter {

  private final FhirContext fhirContext;
  private final Duration timeout;
  private final RejectionLogger rejections;

  AnswerAfterCommitFilter(FhirContext fhirContext, Duration timeout, RejectionLogger rejections) {
    this.fhirContext = fhirContext;
    this.timeout = timeout;
    this.rejections = rejections;
  }

  @Override
  public void doFilter(ServletRequest servletRequest, ServletResponse servletResponse, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest request = (HttpServletRequest) servletRequest;
    HttpServletResponse response = (HttpServletResponse) servletResponse;
    DeferredAnswer deferred = new DeferredAnswer();
    DeferredAnswer.offer(request, deferred);
    BufferedResponse buffered = new BufferedResponse(response);
    chain.doFilter(request, buffered);
    Optional<CompletableFuture<?>> pending = deferred.commit();
    if (pending.isEmpty()) {
      buffered.release();
      return;
    }
    CompletableFuture<?> commit = pending.get();
    if (commit.isDone()) {
      answer(request, response, buffered, commit);
      return;
    }
    AsyncContext async = request.startAsync(request, response);
    async.setTimeout(timeout.toMillis());
    AtomicBoolean answered = new AtomicBoolean();
    async.addListener(new TimeoutAnswer(answered, request, response));
    commit.whenComplete((ignored, failure) -> {
      // On a pool thread: socket writes must not hold up the outbox writer, which completes this.
      if (answered.compareAndSet(false, true)) {
        async.start(() -> {
          try {
            answer(request, response, buffered, commit);
          } catch (IOException e) {
            // The sender went away; it retries what it did not see answered.
          }
          async.complete();
        });
      }
    });
  }

  private void answer(HttpServletRequest request, HttpServletResponse response, BufferedResponse buffered,
      CompletableFuture<?> commit) throws IOException {
    if (commit.isCompletedExceptionally()) {
      unavailable(request, response, DurableAcknowledger.UNAVAILABLE);
    } else {
      buffered.release();
    }
  }

  private void unavailable(HttpServletRequest request, HttpServletResponse response, String message)
      throws IOException {
    String text = message + "; please retry";
    rejections.logUnavailable(request.getMethod() + " " + request.getRequestURI(), text);
    OperationOutcome outcome = new OperationOutcome();
    outcome.addIssue().setSeverity(IssueSeverity.ERROR).setCode(IssueType.TRANSIENT).setDiagnostics(text);
    byte[] body = fhirContext.newJsonParser().encodeResourceToString(outcome).getBytes(StandardCharsets.UTF_8);
    response.reset();
    response.setStatus(503);
    response.setHeader("Retry-After", DurableAcknowledger.RETRY_AFTER_SECONDS);
    response.setContentType("application/fhir+json;charset=utf-8");
    response.setContentLength(body.length);
    response.getOutputStream().write(body);
  }

  /** The commit did not land in time: the sender hears 503 and retries, before its own timeout. */
  private final class TimeoutAnswer implements AsyncListener {
    private final AtomicBoolean answered;
    private final HttpServletRequest request;
    private final HttpServletResponse response;

    TimeoutAnswer(AtomicBoolean answered, HttpServletRequest request, HttpServletResponse response) {
      this.answered = answered;
      this.request = request;
      this.response = response;
    }

    @Override
    public void onTimeout(AsyncEvent event) throws IOException {
      if (answered.compareAndSet(false, true)) {
        unavailable(request, response, DurableAcknowledger.TIMED_OUT);
        event.getAsyncContext().complete();
      }
    }

    @Override
    public void onComplete(AsyncEvent event) {}

    @Override
    public void onError(AsyncEvent event) {}

    @Override
    public void onStartAsync(AsyncEvent event) {}
  }
}
