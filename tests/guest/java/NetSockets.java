import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;

/** Blocking java.net sockets over loopback: ServerSocket/Socket echo, timeouts, DatagramSocket. */
public class NetSockets {
    public static void main(String[] args) throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            System.out.println("bound: " + (ss.getLocalPort() > 0) + " " + ss.getInetAddress());
            Thread server = new Thread(() -> {
                try {
                    for (int i = 0; i < 3; i++) {
                        try (Socket c = ss.accept();
                             InputStream in = c.getInputStream();
                             OutputStream out = c.getOutputStream()) {
                            c.setTcpNoDelay(true);
                            byte[] buf = new byte[8192];
                            int n;
                            while ((n = in.read(buf)) > 0) out.write(buf, 0, n);
                        }
                    }
                } catch (IOException e) {
                    System.out.println("server: " + e);
                }
            });
            server.start();
            for (int i = 0; i < 3; i++) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
                    s.setSoTimeout(20000);
                    byte[] data = new byte[100000 * (i + 1)];
                    for (int k = 0; k < data.length; k++) data[k] = (byte) (k * 7 + i);
                    Thread w = new Thread(() -> {
                        try { s.getOutputStream().write(data); s.shutdownOutput(); } catch (IOException e) { System.out.println("writer: " + e); }
                    });
                    w.start();
                    ByteArrayOutputStream got = new ByteArrayOutputStream();
                    s.getInputStream().transferTo(got);
                    w.join();
                    System.out.println("echo " + i + ": " + java.util.Arrays.equals(data, got.toByteArray()));
                }
            }
            server.join();
        }
        try (Socket s = new Socket()) {
            ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            int port = closed.getLocalPort();
            closed.close();
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
            System.out.println("connect to a closed port: connected?!");
        } catch (ConnectException e) {
            System.out.println("connect to a closed port: " + e.getClass().getSimpleName());
        }
        try (DatagramSocket a = new DatagramSocket(0, InetAddress.getLoopbackAddress());
             DatagramSocket b = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            byte[] msg = "datagram".getBytes(StandardCharsets.UTF_8);
            a.send(new DatagramPacket(msg, msg.length, b.getLocalSocketAddress()));
            DatagramPacket p = new DatagramPacket(new byte[100], 100);
            b.setSoTimeout(10000);
            b.receive(p);
            System.out.println("udp: " + new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8)
                + " from sender: " + (p.getPort() == a.getLocalPort()));
        }
        System.out.println("localhost: " + InetAddress.getByName("localhost").isLoopbackAddress());
    }
}
