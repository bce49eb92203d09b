import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * java.nio over loopback: a Selector-driven echo server (epoll plus an eventfd wake-up on Linux)
 * serving 30 SocketChannel clients from threads, a selector woken up from another thread, and
 * DatagramChannel send/receive. Prints only what is the same on every run.
 */
public class NioServer {
    static final int CLIENTS = 30;
    static final int ROUNDS = 4;

    public static void main(String[] args) throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (Selector sel = Selector.open(); ServerSocketChannel ssc = ServerSocketChannel.open()) {
            ssc.bind(new InetSocketAddress(lo, 0));
            ssc.configureBlocking(false);
            ssc.register(sel, SelectionKey.OP_ACCEPT);
            int port = ((InetSocketAddress) ssc.getLocalAddress()).getPort();
            AtomicInteger good = new AtomicInteger();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                final int id = i;
                Thread t = new Thread(() -> {
                    try (SocketChannel c = SocketChannel.open(new InetSocketAddress(lo, port))) {
                        for (int r = 0; r < ROUNDS; r++) {
                            byte[] msg = ("client " + id + " round " + r).getBytes(StandardCharsets.UTF_8);
                            c.write(ByteBuffer.wrap(msg));
                            ByteBuffer back = ByteBuffer.allocate(msg.length);
                            while (back.hasRemaining() && c.read(back) >= 0) { }
                            if (!java.util.Arrays.equals(msg, back.array())) return;
                        }
                        good.incrementAndGet();
                    } catch (IOException e) {
                        System.out.println("client " + id + ": " + e);
                    }
                });
                t.start();
                clients.add(t);
            }
            int closed = 0, accepted = 0;
            ByteBuffer buf = ByteBuffer.allocate(4096);
            while (closed < CLIENTS) {
                if (sel.select(20000) == 0) {
                    System.out.println("select timed out");
                    break;
                }
                Iterator<SelectionKey> it = sel.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey k = it.next();
                    it.remove();
                    if (k.isAcceptable()) {
                        SocketChannel c;
                        while ((c = ssc.accept()) != null) {
                            c.configureBlocking(false);
                            c.register(sel, SelectionKey.OP_READ);
                            accepted++;
                        }
                    } else if (k.isReadable()) {
                        SocketChannel c = (SocketChannel) k.channel();
                        buf.clear();
                        int n = c.read(buf);
                        if (n < 0) {
                            k.cancel();
                            c.close();
                            closed++;
                        } else {
                            buf.flip();
                            while (buf.hasRemaining()) c.write(buf);
                        }
                    }
                }
            }
            for (Thread t : clients) t.join();
            System.out.println("accepted " + accepted + ", closed " + closed + ", clients ok " + good.get());

            Thread waker = new Thread(() -> {
                try { Thread.sleep(200); } catch (InterruptedException e) { }
                sel.wakeup();
            });
            long t0 = System.nanoTime();
            waker.start();
            int n = sel.select(30000);
            waker.join();
            System.out.println("wakeup: " + n + " keys, before the timeout: "
                    + ((System.nanoTime() - t0) < 20_000_000_000L));
        }
        try (DatagramChannel a = DatagramChannel.open(StandardProtocolFamily.INET);
             DatagramChannel b = DatagramChannel.open(StandardProtocolFamily.INET)) {
            a.bind(new InetSocketAddress(lo, 0));
            b.bind(new InetSocketAddress(lo, 0));
            a.send(ByteBuffer.wrap("over udp".getBytes(StandardCharsets.UTF_8)), b.getLocalAddress());
            ByteBuffer in = ByteBuffer.allocate(100);
            InetSocketAddress from = (InetSocketAddress) b.receive(in);
            in.flip();
            System.out.println("datagram: " + StandardCharsets.UTF_8.decode(in) + ", from a: "
                    + (from.getPort() == ((InetSocketAddress) a.getLocalAddress()).getPort()));
        }
    }
}
