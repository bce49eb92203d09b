// Runs after the invocations of invoker.properties; `basedir` is the cloned project.
def log = new File(basedir, 'build.log').text
def manifest = new File(basedir, 'target/lwjvm/app.yaml')
assert manifest.isFile()
def yaml = manifest.text
assert yaml.contains('commons-lang3-3.17.0.jar') : "the runtime dependency is on the class path:\n" + yaml
assert yaml.contains('"main": ') == false
assert yaml.contains('main: "it.Hello"')
assert new File(basedir, 'target/lwjvm/image/image.json').isFile()
assert new File(basedir, 'target/lwjvm/image/root.img').isFile()
// The app ran in the guest: its line (a library call, the variable, the property, our kernel).
assert log.contains('Hello from-maven, it.property=set, os.name=Linux')
// The second invocation failed with lwjvm's own line.
assert log.contains("name: expected a name of lower-case letters") : log
// The third deployed it (the name from the artifactId Hello_IT), the fourth stopped it gracefully:
// the JVM got SIGTERM, ran its shutdown hook and exited 143.
assert log.contains('hello_it: healthy in ') : log
assert log.contains('hello_it: stopped (exited 143') : log
// The fifth was skipped: it says so, and deployed nothing (the rm below finds hello_it stopped).
assert log.contains('lwjvm: skipped') : log
def lwjvm = { List<String> args ->
    def p = ([lwjvmExecutable] + args).execute()
    def out = p.text
    p.waitFor()
    assert p.exitValue() == 0 : "lwjvm ${args}: ${p.err.text}"
    out
}
def logs = lwjvm(['logs', 'hello_it'])
assert logs.contains('serving until stopped') && logs.contains('Goodbye from Hello_IT') : logs
lwjvm(['rm', 'hello_it'])
return true
