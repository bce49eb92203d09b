package sample;

import sample.lib.Words;

/** Prints what it was given: its argument (through the library), a variable and a property. */
public class Main {
    public static void main(String[] args) {
        System.out.println(Words.capitalize(System.getenv("GREETING")) + " " + String.join(" ", args)
                + ", sample.property=" + System.getProperty("sample.property")
                + ", os.name=" + System.getProperty("os.name"));
    }
}
