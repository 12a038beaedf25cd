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
 * outbox has the change on disk, or replaced by a 503 if it cannot get there in time. A blocked
 * thread cost a park, a wake-up and a context switch per request.
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
    DeferredAnswer deferred = new DeferredAnswer();
    DeferredAnswer.offer(request, deferred);
    HeldAnswer held = new HeldAnswer(request, (HttpServletResponse) servletResponse);
    chain.doFilter(request, held.buffered);
    Optional<CompletableFuture<?>> pending = deferred.commit();
    if (pending.isEmpty()) {
      held.buffered.release();
    } else if (pending.get().isDone()) {
      held.answerAfter(pending.get());
    } else {
      held.answerLater(pending.get());
    }
  }

  /** One request's answer, sent once: after its commit, or as a 503 when the wait times out. */
  private final class HeldAnswer implements AsyncListener {
    private final HttpServletRequest request;
    private final HttpServletResponse response;
    private final BufferedResponse buffered;
    private final AtomicBoolean answered = new AtomicBoolean();

    HeldAnswer(HttpServletRequest request, HttpServletResponse response) {
      this.request = request;
      this.response = response;
      this.buffered = new BufferedResponse(response);
    }

    void answerLater(CompletableFuture<?> commit) {
      AsyncContext async = request.startAsync(request, response);
      async.setTimeout(timeout.toMillis());
      async.addListener(this);
      commit.whenComplete((ignored, failure) -> {
        // On a pool thread: socket writes must not hold up the outbox writer, which completes this.
        if (answered.compareAndSet(false, true)) {
          async.start(() -> {
            try {
              answerAfter(commit);
            } catch (IOException e) {
              // The sender went away; it retries what it did not see answered.
            }
            async.complete();
          });
        }
      });
    }

    void answerAfter(CompletableFuture<?> commit) throws IOException {
      if (commit.isCompletedExceptionally()) {
        unavailable(DurableAcknowledger.UNAVAILABLE, DurableAcknowledger.failureOf(commit));
      } else {
        buffered.release();
      }
    }

    /** The commit did not land in time: the sender hears 503 and retries, before its own timeout. */
    @Override
    public void onTimeout(AsyncEvent event) throws IOException {
      if (answered.compareAndSet(false, true)) {
        unavailable(DurableAcknowledger.TIMED_OUT, Optional.empty());
        event.getAsyncContext().complete();
      }
    }

    private void unavailable(String message, Optional<String> cause) throws IOException {
      String text = message + "; please retry";
      rejections.logUnavailable(request.getMethod() + " " + request.getRequestURI(), text, cause);
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

    @Override
    public void onComplete(AsyncEvent event) {}

    @Override
    public void onError(AsyncEvent event) {}

    @Override
    public void onStartAsync(AsyncEvent event) {}
  }
}
