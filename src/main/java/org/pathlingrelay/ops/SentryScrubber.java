package org.pathlingrelay.ops;

import io.sentry.Breadcrumb;
import io.sentry.Hint;
import io.sentry.SentryEvent;
import io.sentry.SentryOptions;
import io.sentry.protocol.Message;
import io.sentry.protocol.SentryException;
import java.util.regex.Pattern;

/**
 * Removes what must never leave the relay from an error event before it is sent: resource
 * contents (anything that looks like a JSON object), bearer tokens, secrets in key=value form,
 * and the request, user and extra data Sentry might attach.
 */
final class SentryScrubber implements SentryOptions.BeforeSendCallback, SentryOptions.BeforeBreadcrumbCallback {

  private static final Pattern JSON_OBJECT = Pattern.compile("\\{.*\\}", Pattern.DOTALL);
  private static final Pattern BEARER = Pattern.compile("(?i)(bearer|basic)\\s+[A-Za-z0-9._~+/=-]+");
  private static final Pattern KEY_VALUE_SECRET =
      Pattern.compile("(?i)(secret|password|token|assertion|private_key|client_secret)(\\s*[=:]\\s*)\\S+");

  static String scrub(String text) {
    if (text == null) {
      return null;
    }
    String scrubbed = JSON_OBJECT.matcher(text).replaceAll("[content removed]");
    scrubbed = BEARER.matcher(scrubbed).replaceAll("$1 [removed]");
    return KEY_VALUE_SECRET.matcher(scrubbed).replaceAll("$1$2[removed]");
  }

  @Override
  public SentryEvent execute(SentryEvent event, Hint hint) {
    Message message = event.getMessage();
    if (message != null) {
      message.setMessage(scrub(message.getMessage()));
      message.setFormatted(scrub(message.getFormatted()));
      message.setParams(null);
    }
    if (event.getExceptions() != null) {
      for (SentryException exception : event.getExceptions()) {
        exception.setValue(scrub(exception.getValue()));
      }
    }
    if (event.getBreadcrumbs() != null) {
      event.getBreadcrumbs().forEach(breadcrumb -> breadcrumb.setMessage(scrub(breadcrumb.getMessage())));
    }
    event.setRequest(null);
    event.setUser(null);
    event.setExtras(null);
    return event;
  }

  @Override
  public Breadcrumb execute(Breadcrumb breadcrumb, Hint hint) {
    breadcrumb.setMessage(scrub(breadcrumb.getMessage()));
    breadcrumb.getData().clear();
    return breadcrumb;
  }
}
