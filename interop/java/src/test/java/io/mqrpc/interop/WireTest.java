package io.mqrpc.interop;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** The golden wire vectors of testdata/wire, checked with msgpack-java. */
class WireTest {
  @TestFactory
  Stream<DynamicTest> vectorsDecodeAndEncodeWithMsgpackJava() throws Exception {
    Path dir = Path.of(System.getProperty("mqrpc.wire.dir", "../../testdata/wire"));
    List<Path> files = Wire.vectorFiles(dir);
    assertFalse(files.isEmpty(), "no vectors in " + dir.toAbsolutePath());
    return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> Wire.checkVector(f)));
  }
}
