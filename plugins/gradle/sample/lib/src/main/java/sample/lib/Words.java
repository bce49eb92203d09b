package sample.lib;

/** A library on the application's runtime class path. */
public final class Words {
    private Words() {}

    public static String capitalize(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
