import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/** java.util.zip (the JDK's zlib): gzip and zip round trips, CRC32. */
public class ZipRoundTrip {
    public static void main(String[] args) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            sb.append("record ").append(i).append(' ').append(i * 31 % 977).append('\n');
        }
        byte[] data = sb.toString().getBytes(StandardCharsets.UTF_8);
        CRC32 crc = new CRC32();
        crc.update(data);
        String sum = Long.toHexString(crc.getValue());
        System.out.println("input " + data.length + " bytes, crc32 " + sum);

        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(data);
        }
        byte[] back;
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz.toByteArray()))) {
            back = in.readAllBytes();
        }
        System.out.println("gzip round trip: " + Arrays.equals(data, back)
                + ", smaller: " + (gz.size() < data.length / 3));

        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        try (ZipOutputStream out = new ZipOutputStream(zip)) {
            for (String name : new String[] {"a.txt", "dir/b.txt"}) {
                out.putNextEntry(new ZipEntry(name));
                out.write(data, 0, name.length() * 1000);
                out.closeEntry();
            }
        }
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip.toByteArray()))) {
            ZipEntry e;
            while ((e = in.getNextEntry()) != null) {
                byte[] b = in.readAllBytes();
                System.out.println("entry " + e.getName() + ": " + b.length + " bytes, same: "
                        + Arrays.equals(b, Arrays.copyOf(data, b.length)));
            }
        }
    }
}
