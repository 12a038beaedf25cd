package org.pathlingrelay.hosting;

import java.net.BindException;

/** The relay could not take its address: the port is in use, or needs privileges, or the address is not ours. */
public final class CannotListenException extends RuntimeException {

  private final String bind;
  private final int port;

  CannotListenException(String bind, int port, BindException cause) {
    super("cannot listen on " + bind + ":" + port + ": " + cause.getMessage(), cause);
    this.bind = bind;
    this.port = port;
  }

  public String bind() {
    return bind;
  }

  public int port() {
    return port;
  }

  public boolean portInUse() {
    return String.valueOf(getCause().getMessage()).contains("in use");
  }

  public boolean permissionDenied() {
    return String.valueOf(getCause().getMessage()).contains("ermission");
  }
}
