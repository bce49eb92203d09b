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
assert log.contains('Hello from maven, it.property=set, os.name=Linux')
// The second invocation failed with lwjvm's own line.
assert log.contains("name: expected a name of lower-case letters") : log
return true
