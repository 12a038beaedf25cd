package org.pathlingrelay.receive;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/**
 * Keeps what HAPI writes as the body, and lets nothing reach the wire, until {@link #release()}:
 * a 2xx must not leave before its change is on disk. Status and headers go to the real response,
 * which stays uncommitted, so {@link HttpServletResponse#reset()} can still replace them.
 */
final class BufferedResponse extends HttpServletResponseWrapper {

  private final ByteArrayOutputStream body = new ByteArrayOutputStream(256);
  private ServletOutputStream stream;
  private PrintWriter writer;

  BufferedResponse(HttpServletResponse response) {
    super(response);
  }

  @Override
  public ServletOutputStream getOutputStream() {
    if (stream == null) {
      stream = new ServletOutputStream() {
        @Override
        public void write(int b) {
          body.write(b);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
          body.write(bytes, offset, length);
        }

        @Override
        public boolean isReady() {
          return true;
        }

        @Override
        public void setWriteListener(WriteListener listener) {
          throw new IllegalStateException("The receiver writes its answers blocking");
        }
      };
    }
    return stream;
  }

  @Override
  public PrintWriter getWriter() {
    if (writer == null) {
      writer = new PrintWriter(new OutputStreamWriter(getOutputStream(), StandardCharsets.UTF_8));
    }
    return writer;
  }

  // Flushing would commit the real response, status and all, before the outbox does.
  @Override
  public void flushBuffer() {}

  @Override
  public void resetBuffer() {
    flushWriter();
    body.reset();
    super.resetBuffer();
  }

  @Override
  public void reset() {
    flushWriter();
    body.reset();
    super.reset();
  }

  /** Sends what HAPI wrote. */
  void release() throws IOException {
    flushWriter();
    HttpServletResponse response = (HttpServletResponse) getResponse();
    if (body.size() > 0) {
      response.setContentLength(body.size());
      body.writeTo(response.getOutputStream());
    }
  }

  private void flushWriter() {
    if (writer != null) {
      // Flushes unless HAPI has closed it already, which it usually has; flush() would then build
      // an IOException ("Stream closed") for the writer to swallow, on every request.
      writer.checkError();
    }
  }
}
