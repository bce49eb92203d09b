import java.net.InetAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** UnixDomainSocketAddress channels (JDK 16+): a server and a client over a path in /tmp, then the
 *  name facts every app asks for (the loopback address, and whether the local host resolves). */
public class UnixChannels {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "lwjvm-uds-");
        Path sock = dir.resolve("server.sock");
        UnixDomainSocketAddress addr = UnixDomainSocketAddress.of(sock);
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(addr);
            System.out.println("bound: " + Files.exists(sock) + ", local: "
                    + server.getLocalAddress().equals(addr));
            Thread t = new Thread(() -> {
                try (SocketChannel c = server.accept()) {
                    ByteBuffer b = ByteBuffer.allocate(1 << 16);
                    while (c.read(b) >= 0) {
                        b.flip();
                        c.write(b);
                        b.clear();
                    }
                } catch (Exception e) {
                    System.out.println("server: " + e);
                }
            });
            t.start();
            try (SocketChannel c = SocketChannel.open(addr)) {
                byte[] msg = "hello over a unix socket".repeat(1000).getBytes(StandardCharsets.UTF_8);
                c.write(ByteBuffer.wrap(msg));
                c.shutdownOutput();
                ByteBuffer back = ByteBuffer.allocate(msg.length + 1);
                while (c.read(back) >= 0) { }
                back.flip();
                byte[] got = new byte[back.remaining()];
                back.get(got);
                System.out.println("echo: " + java.util.Arrays.equals(msg, got) + ", remote: "
                        + c.getRemoteAddress().equals(addr));
            }
            t.join();
        }
        Files.delete(sock);
        Files.delete(dir);
        System.out.println("loopback: " + InetAddress.getLoopbackAddress());
        InetAddress local = InetAddress.getLocalHost();
        System.out.println("local host resolves: " + (local.getHostName().length() > 0));
        System.out.println("localhost is loopback: " + InetAddress.getByName("localhost").isLoopbackAddress());
    }
}
