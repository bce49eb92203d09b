import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** File I/O in /tmp: create, write, append, random access, list, rename, delete. */
public class TmpFiles {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory(Paths.get("/tmp"), "lwjvm-");
        Path a = dir.resolve("a.txt");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            lines.add("line " + i);
        }
        Files.write(a, lines, StandardCharsets.UTF_8);
        Files.writeString(a, "tail\n", java.nio.file.StandardOpenOption.APPEND);
        System.out.println("size: " + Files.size(a));
        List<String> back = Files.readAllLines(a);
        System.out.println("lines: " + back.size() + ", last: " + back.get(back.size() - 1));
        try (RandomAccessFile raf = new RandomAccessFile(a.toFile(), "rw")) {
            raf.seek(5);
            raf.write('X');
            raf.seek(0);
            System.out.println("patched: " + raf.readLine());
            raf.setLength(100);
        }
        System.out.println("truncated: " + Files.size(a));
        Files.createDirectory(dir.resolve("sub"));
        Files.move(a, dir.resolve("sub").resolve("b.txt"));
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve("sub"))) {
            for (Path p : ds) {
                names.add(p.getFileName().toString());
            }
        }
        Collections.sort(names);
        System.out.println("listed: " + names);
        Files.delete(dir.resolve("sub").resolve("b.txt"));
        Files.delete(dir.resolve("sub"));
        Files.delete(dir);
        System.out.println("cleaned up: " + !Files.exists(dir));
    }
}
