import java.nio.file.*;
import java.util.*;
import java.util.concurrent.TimeUnit;

/** Java's WatchService (inotify on Linux): creates, modifies, renames and deletes in a watched
 * directory, printed in the order reported, with consecutive repeats collapsed (how many MODIFY
 * events a write gives depends on when the watcher thread reads them). */
public class WatchDemo {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("watch");
        try (WatchService ws = FileSystems.getDefault().newWatchService()) {
            dir.register(ws, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
            Path a = dir.resolve("a.txt");
            Files.writeString(a, "one");
            Files.writeString(a, "two", StandardOpenOption.APPEND);
            Files.move(a, dir.resolve("b.txt"));
            Files.createDirectory(dir.resolve("sub"));
            Files.delete(dir.resolve("b.txt"));
            Files.delete(dir.resolve("sub"));
            Files.writeString(dir.resolve("done"), "");
            List<String> seen = new ArrayList<>();
            boolean done = false;
            while (!done) {
                WatchKey key = ws.poll(60, TimeUnit.SECONDS);
                if (key == null) {
                    System.out.println("timed out after " + seen);
                    System.exit(1);
                }
                for (WatchEvent<?> e : key.pollEvents()) {
                    String line = e.kind().name() + " " + e.context();
                    if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(line)) seen.add(line);
                    if (line.equals("ENTRY_CREATE done")) done = true;
                }
                key.reset();
            }
            seen.forEach(System.out::println);
            Files.delete(dir.resolve("done"));
        }
        Files.delete(dir);
    }
}
