import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The download server of `make bench` (lwjvm/baseline.py): answers every HTTP request on the port
 * of args[0] with the file of args[1], sent with FileChannel.transferTo (sendfile on Linux), then
 * closes the connection. One connection at a time, blocking channels, no Selector.
 */
public final class Download {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(args[0]);
        Path file = Path.of(args[1]);
        try (ServerSocketChannel server = ServerSocketChannel.open();
                FileChannel data = FileChannel.open(file, StandardOpenOption.READ)) {
            server.bind(new InetSocketAddress(port), 64);
            System.out.println("download: serving " + file + " (" + data.size() + " bytes) on port " + port);
            ByteBuffer request = ByteBuffer.allocate(8192);
            for (;;) {
                try (SocketChannel client = server.accept()) {
                    request.clear();
                    if (!readHeaders(client, request))
                        continue;
                    long size = data.size();
                    String head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                            + "Content-Length: " + size + "\r\nConnection: close\r\n\r\n";
                    ByteBuffer h = ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII));
                    while (h.hasRemaining())
                        client.write(h);
                    for (long sent = 0; sent < size; )
                        sent += data.transferTo(sent, size - sent, client);
                } catch (IOException e) {
                    System.out.println("download: " + e);
                }
            }
        }
    }

    /** Reads until the blank line that ends the request's headers; false at end of stream. */
    private static boolean readHeaders(SocketChannel client, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            if (client.read(buf) < 0)
                return false;
            String s = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII);
            if (s.contains("\r\n\r\n"))
                return true;
        }
        return true;
    }
}
