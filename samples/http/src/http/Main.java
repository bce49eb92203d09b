package http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small HTTP service on the JDK's own server (com.sun.net.httpserver): GET / greets, GET /health
 * answers 200 for health checks, POST /echo sends the request body back. The port comes from the
 * first argument (default 8080); a pool of worker threads serves the requests.
 */
public final class Main {
    private static final AtomicLong served = new AtomicLong();

    public static void main(String[] args) throws IOException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 8080;
        int workers = Math.max(2, Runtime.getRuntime().availableProcessors() * 2);
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 1024);
        server.createContext("/", Main::root);
        server.createContext("/health", ex -> reply(ex, 200, "text/plain", "ok\n"));
        server.createContext("/echo", Main::echo);
        server.setExecutor(Executors.newFixedThreadPool(workers));
        server.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.stop(0);
            System.out.println("http: stopped after " + served.get() + " requests");
        }));
        System.out.println("http: listening on port " + port + " (" + workers + " workers)");
    }

    private static void root(HttpExchange ex) throws IOException {
        if (!ex.getRequestURI().getPath().equals("/")) {
            reply(ex, 404, "text/plain", "not found\n");
            return;
        }
        String body = "Hello from lwjvm: Java " + System.getProperty("java.version") + " on "
                + System.getProperty("os.name") + " " + System.getProperty("os.version") + "\n";
        reply(ex, 200, "text/plain; charset=utf-8", body);
    }

    private static void echo(HttpExchange ex) throws IOException {
        if (!ex.getRequestMethod().equals("POST")) {
            ex.getResponseHeaders().set("Allow", "POST");
            reply(ex, 405, "text/plain", "use POST\n");
            return;
        }
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readAllBytes();
        }
        String type = ex.getRequestHeaders().getFirst("Content-Type");
        ex.getResponseHeaders().set("Content-Type", type != null ? type : "application/octet-stream");
        ex.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
        served.incrementAndGet();
    }

    private static void reply(HttpExchange ex, int code, String type, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(code, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
        served.incrementAndGet();
    }
}
