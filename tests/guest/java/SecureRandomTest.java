import java.security.SecureRandom;
import java.util.Arrays;

/** SecureRandom: the default (NativePRNG, /dev/urandom and getrandom) and a seeded SHA1PRNG. */
public class SecureRandomTest {
    public static void main(String[] args) throws Exception {
        SecureRandom def = new SecureRandom();
        byte[] a = new byte[32];
        byte[] b = new byte[32];
        def.nextBytes(a);
        def.nextBytes(b);
        System.out.println("default algorithm: " + def.getAlgorithm());
        System.out.println("two draws differ: " + !Arrays.equals(a, b));
        byte[] seed = SecureRandom.getSeed(16);
        System.out.println("seed bytes: " + seed.length);
        SecureRandom sha = SecureRandom.getInstance("SHA1PRNG");
        sha.setSeed(42L);
        byte[] c = new byte[16];
        sha.nextBytes(c);
        StringBuilder hex = new StringBuilder();
        for (byte x : c) {
            hex.append(String.format("%02x", x));
        }
        System.out.println("SHA1PRNG(42): " + hex);
    }
}
