import java.lang.reflect.Field;
import sun.misc.Unsafe;

/** Crashes the JVM on purpose (a store to address 0 through Unsafe): HotSpot's fatal error path. */
public class Crash {
    public static void main(String[] args) throws Exception {
        Field f = Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        Unsafe unsafe = (Unsafe) f.get(null);
        System.out.println("crashing");
        System.out.flush();
        unsafe.putAddress(0L, 42L);
        System.out.println("not reached");
    }
}
