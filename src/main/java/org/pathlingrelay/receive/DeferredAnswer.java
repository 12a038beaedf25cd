package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.servlet.ServletRequestDetails;
import jakarta.servlet.ServletRequest;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The promise, made by {@link AnswerAfterCommitFilter} to a provider, that HAPI's answer will be
 * held back until a commit lands, so the request thread need not wait for it.
 */
final class DeferredAnswer {

  private static final String ATTRIBUTE = DeferredAnswer.class.getName();

  private CompletableFuture<?> commit;

  static void offer(ServletRequest request, DeferredAnswer answer) {
    request.setAttribute(ATTRIBUTE, answer);
  }

  /** Present when the request came through the filter. */
  static Optional<DeferredAnswer> of(RequestDetails request) {
    return request instanceof ServletRequestDetails servlet
        && servlet.getServletRequest().getAttribute(ATTRIBUTE) instanceof DeferredAnswer answer
        ? Optional.of(answer)
        : Optional.empty();
  }

  void after(CompletableFuture<?> commit) {
    if (this.commit != null) {
      throw new IllegalStateException("One request, one commit");
    }
    this.commit = commit;
  }

  Optional<CompletableFuture<?>> commit() {
    return Optional.ofNullable(commit);
  }
}
