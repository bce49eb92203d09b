import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

/** Allocation pressure: about 2 GB allocated through a ring of live arrays; the sum checks it. */
public class GcPressure {
    public static void main(String[] args) {
        byte[][] ring = new byte[256][];
        long checksum = 0;
        for (int i = 0; i < 200_000; i++) {
            byte[] b = new byte[1024 + (i % 64) * 256];
            b[0] = (byte) i;
            b[b.length - 1] = (byte) (i >> 8);
            ring[i % ring.length] = b;
            byte[] old = ring[(i * 7) % ring.length];
            if (old != null) {
                checksum += old[0] + old[old.length - 1] + old.length;
            }
        }
        long collections = 0;
        StringBuilder names = new StringBuilder();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            collections += Math.max(0, gc.getCollectionCount());
            names.append(names.length() == 0 ? "" : ", ").append(gc.getName());
        }
        System.out.println("collectors: " + names);
        System.out.println("collected: " + (collections > 0));
        System.out.println("checksum: " + checksum);
    }
}
