import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * java.nio readiness: a Selector (epoll plus an eventfd for wakeup on Linux) over Pipes (pipe2):
 * nothing ready, one pipe readable, many pipes with some readable, a wakeup() from another
 * thread, a writable sink, and end-of-stream after the sink closes.
 */
public class SelectorPipe {
    public static void main(String[] args) throws Exception {
        try (Selector sel = Selector.open()) {
            Pipe p = Pipe.open();
            p.source().configureBlocking(false);
            SelectionKey key = p.source().register(sel, SelectionKey.OP_READ);
            System.out.println("selectNow, nothing written: " + sel.selectNow());
            System.out.println("select(50), nothing written: " + sel.select(50));

            p.sink().write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.UTF_8)));
            System.out.println("select after a write: " + sel.select(5000));
            System.out.println("readable: " + key.isReadable());
            ByteBuffer buf = ByteBuffer.allocate(64);
            int n = p.source().read(buf);
            System.out.println("read: " + new String(buf.array(), 0, n, StandardCharsets.UTF_8));
            sel.selectedKeys().clear();
            System.out.println("selectNow after reading: " + sel.selectNow());

            // wakeup() from another thread ends a select() that has nothing to report.
            Thread waker = new Thread(() -> {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
                sel.wakeup();
            });
            waker.start();
            long t0 = System.nanoTime();
            int woke = sel.select(30000);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            waker.join();
            System.out.println("select ended by wakeup: " + woke + ", well before its timeout: " + (ms < 20000));

            // Many pipes, every third one written to.
            List<Pipe> pipes = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                Pipe q = Pipe.open();
                q.source().configureBlocking(false);
                q.source().register(sel, SelectionKey.OP_READ, i);
                pipes.add(q);
            }
            for (int i = 0; i < pipes.size(); i += 3) {
                pipes.get(i).sink().write(ByteBuffer.wrap(new byte[] {(byte) i}));
            }
            System.out.println("ready among 24 pipes: " + sel.select(5000));
            TreeSet<Integer> ready = new TreeSet<>();
            for (SelectionKey k : sel.selectedKeys()) {
                ready.add((Integer) k.attachment());
            }
            sel.selectedKeys().clear();
            System.out.println("which: " + ready);

            // A writable sink.
            p.sink().configureBlocking(false);
            SelectionKey wkey = p.sink().register(sel, SelectionKey.OP_WRITE);
            sel.selectNow();
            System.out.println("sink writable: " + wkey.isWritable());
            wkey.cancel();
            sel.selectedKeys().clear();

            // End of stream once the sink is closed.
            p.sink().close();
            sel.select(5000);
            System.out.println("readable after the sink closed: " + key.isReadable());
            buf.clear();
            System.out.println("read at end of stream: " + p.source().read(buf));
            p.source().close();
            for (Pipe q : pipes) {
                q.sink().close();
                q.source().close();
            }
        }
        System.out.println("done");
    }
}
