package org.pathlingrelay.http;

import ca.uhn.fhir.rest.client.apache.ApacheHttpRequest;
import ca.uhn.fhir.rest.client.api.IClientInterceptor;
import ca.uhn.fhir.rest.client.api.IHttpRequest;
import ca.uhn.fhir.rest.client.api.IHttpResponse;
import java.time.Duration;
import org.apache.http.client.config.RequestConfig;

/**
 * Puts the timeouts on every request of a HAPI generic client. HAPI 8.8.0 builds each request
 * with the FhirContext's client factory, not with the factory that made the client, so timeouts
 * set on a factory of our own are silently ignored and the context's defaults apply (10 s to
 * connect, 10 s of silence). Set on the request itself, they win.
 */
public final class ClientTimeouts implements IClientInterceptor {

  private final RequestConfig config;

  /**
   * @param connect longest wait for a connection (and for a free one in the pool)
   * @param answer longest silence while waiting for the answer
   */
  public ClientTimeouts(Duration connect, Duration answer) {
    int connectMillis = (int) Math.min(Integer.MAX_VALUE, connect.toMillis());
    int answerMillis = (int) Math.min(Integer.MAX_VALUE, answer.toMillis());
    this.config = RequestConfig.custom()
        .setConnectTimeout(connectMillis)
        .setConnectionRequestTimeout(Math.max(connectMillis, answerMillis))
        .setSocketTimeout(answerMillis)
        .build();
  }

  @Override
  public void interceptRequest(IHttpRequest request) {
    if (request instanceof ApacheHttpRequest apache) {
      apache.getApacheRequest().setConfig(config);
    }
  }

  @Override
  public void interceptResponse(IHttpResponse response) {
    // nothing to do on the way back
  }
}
