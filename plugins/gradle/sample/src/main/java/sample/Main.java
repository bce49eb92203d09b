package sample;

import sample.lib.Words;

/**
 * Prints what it was given: its argument (through the library), a variable and a property. With
 * the one argument "serve" it runs until stopped instead, and a shutdown hook says goodbye.
 */
public class Main {
    public static void main(String[] args) throws InterruptedException {
        if (args.length == 1 && args[0].equals("serve")) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("Goodbye from gradle-sample")));
            System.out.println("serving until stopped");
            Thread.sleep(Long.MAX_VALUE);
        }
        System.out.println(Words.capitalize(System.getenv("GREETING")) + " " + String.join(" ", args)
                + ", sample.property=" + System.getProperty("sample.property")
                + ", os.name=" + System.getProperty("os.name"));
    }
}
