package org.pathlingrelay.pathling;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.core.IntervalBiFunction;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Runs each request to Pathling as Retry(CircuitBreaker(call)): every attempt passes the breaker,
 * retriable failures back off (honouring {@code Retry-After}), rejections are not retried and do
 * not count against Pathling's health, and an open breaker is not retried here: the caller (the
 * forwarder, a bulk load's kick-off or job poll) waits for it instead. One per Pathling, shared by
 * writes and bulk loads, so that either's failures keep both away from a Pathling in trouble.
 */
public final class PathlingCalls {

  private static final String NAME = "pathling";
  private final Retry retry;
  private final CircuitBreaker breaker;

  public PathlingCalls(
      ResilienceSettings settings, RetryRegistry retries, CircuitBreakerRegistry breakers) {
    IntervalFunction backoff =
        IntervalFunction.ofExponentialRandomBackoff(
            settings.initialBackoff(), 2.0, 0.5, settings.maxBackoff());
    IntervalBiFunction<Object> wait =
        (attempt, outcome) -> {
          if (outcome.isLeft()
              && outcome.getLeft() instanceof RetriableWriteException retriable
              && retriable.retryAfter().isPresent()) {
            long asked = retriable.retryAfter().get().toMillis();
            return Math.max(1, Math.min(asked, settings.maxRetryAfter().toMillis()));
          }
          return backoff.apply(attempt);
        };
    this.retry =
        retries.retry(
            NAME,
            RetryConfig.custom()
                .maxAttempts(settings.maxAttempts())
                .intervalBiFunction(wait)
                .retryOnException(RetriableWriteException.class::isInstance)
                .build());
    this.breaker =
        breakers.circuitBreaker(
            NAME,
            CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(settings.slidingWindow())
                .minimumNumberOfCalls(Math.min(5, settings.slidingWindow()))
                .failureRateThreshold(50)
                .waitDurationInOpenState(settings.openStateWait())
                .permittedNumberOfCallsInHalfOpenState(1)
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .recordException(RetriableWriteException.class::isInstance)
                .build());
  }

  /** Runs one request with retries; throws what the last attempt threw. */
  public void run(Runnable request) {
    Retry.decorateRunnable(retry, CircuitBreaker.decorateRunnable(breaker, request)).run();
  }

  /** {@link #run}, for a request that answers something. */
  public <T> T call(Supplier<T> request) {
    return Retry.decorateSupplier(retry, CircuitBreaker.decorateSupplier(breaker, request)).get();
  }

  /**
   * Calls {@code listener} with each failure that counts against Pathling's health (a refused
   * connection, a timeout, a 5xx), as it happens: a backfill waiting on the forwarder says why.
   */
  public void onFailure(Consumer<Throwable> listener) {
    breaker.getEventPublisher().onError(event -> listener.accept(event.getThrowable()));
  }

  public CircuitBreaker breaker() {
    return breaker;
  }
}
