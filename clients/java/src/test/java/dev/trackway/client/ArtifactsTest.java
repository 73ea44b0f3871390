package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trackway.artifacts.v1.FileInfo;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Artifact upload, download, list, stat and delete against a live server. */
@ExtendWith(TrackwayServerExtension.class)
class ArtifactsTest {
  private static TrackwayClient client;
  private static String experimentId;

  @TempDir Path tmp;

  @BeforeAll
  static void connect(TrackwayServer server, TestInfo test) {
    client = OverHttp.builder(server, test).build();
    experimentId = client.createExperiment(TrackingTest.unique("artifacts")).getExperimentId();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] data = new byte[size];
    new Random(seed).nextBytes(data);
    return data;
  }

  private static String sha256(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  @Test
  void aFewMebibytesRoundTripWithTheirChecksum() throws Exception {
    Artifacts artifacts = client.artifacts(client.createRun(experimentId).getInfo().getRunId());
    byte[] data = randomBytes(5 * 1024 * 1024 + 123, 7);
    Path source = tmp.resolve("weights.bin");
    Files.write(source, data);

    FileInfo stored = artifacts.upload("model/weights.bin", source);
    assertEquals("model/weights.bin", stored.getPath());
    assertEquals(data.length, stored.getSize());

    Path copy = tmp.resolve("out/nested/weights.bin");
    assertEquals(data.length, artifacts.download("model/weights.bin", copy));
    assertEquals(sha256(data), sha256(Files.readAllBytes(copy)));

    ByteArrayOutputStream memory = new ByteArrayOutputStream();
    assertEquals(data.length, artifacts.download("model/weights.bin", memory));
    assertArrayEquals(data, memory.toByteArray());
    try (var leftovers = Files.list(copy.getParent())) {
      assertEquals(List.of(copy), leftovers.toList(), "no partial file is left behind");
    }
  }

  @Test
  void streamsOfUnknownLengthUpload() throws Exception {
    Artifacts artifacts = client.artifacts(client.createRun(experimentId).getInfo().getRunId());
    byte[] data = randomBytes(3 * 1024 * 1024 + 5, 11);
    InputStream source = new ByteArrayInputStream(data);
    FileInfo stored = artifacts.upload("data/blob", source);
    assertEquals(data.length, stored.getSize());
    assertEquals(-1, source.read(), "the whole stream was read");

    FileInfo empty = artifacts.upload("data/empty.txt", new ByteArrayInputStream(new byte[0]));
    assertEquals(0, empty.getSize());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertEquals(0, artifacts.download("data/empty.txt", out));

    out.reset();
    artifacts.download("data/blob", out);
    assertArrayEquals(data, out.toByteArray());
  }

  @Test
  void listStatAndDelete() throws Exception {
    Artifacts artifacts = client.artifacts(client.createRun(experimentId).getInfo().getRunId());
    byte[] hello = "hello".getBytes(StandardCharsets.UTF_8);
    artifacts.upload("a.txt", new ByteArrayInputStream(hello));
    artifacts.upload("dir/b.txt", new ByteArrayInputStream(hello));
    artifacts.upload("dir/sub/c.txt", new ByteArrayInputStream(hello));

    List<FileInfo> root = artifacts.list();
    assertEquals(List.of("a.txt", "dir"), root.stream().map(FileInfo::getPath).toList());
    assertTrue(root.get(1).getIsDir());
    assertEquals(
        List.of("dir/b.txt", "dir/sub"),
        artifacts.list("dir").stream().map(FileInfo::getPath).toList());

    FileInfo file = artifacts.stat("dir/b.txt");
    assertEquals(5, file.getSize());
    assertFalse(file.getIsDir());
    assertTrue(artifacts.stat("dir").getIsDir());

    assertEquals(2, artifacts.delete("dir"));
    assertThrows(NotFoundException.class, () -> artifacts.stat("dir/b.txt"));
    assertEquals(List.of("a.txt"), artifacts.list().stream().map(FileInfo::getPath).toList());
  }

  @Test
  void experimentScopeHoldsItsOwnFiles() throws Exception {
    Artifacts shared = client.experimentArtifacts(experimentId);
    shared.upload(
        "readme.md", new ByteArrayInputStream("# notes".getBytes(StandardCharsets.UTF_8)));
    assertEquals(7, shared.stat("readme.md").getSize());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    shared.download("readme.md", out);
    assertEquals("# notes", out.toString(StandardCharsets.UTF_8));
    assertEquals(1, shared.delete("readme.md"));
  }

  @Test
  void errorsAreTyped() throws IOException {
    Artifacts artifacts = client.artifacts(client.createRun(experimentId).getInfo().getRunId());
    assertThrows(
        NotFoundException.class,
        () -> artifacts.download("missing.bin", new ByteArrayOutputStream()));
    assertThrows(
        NotFoundException.class, () -> artifacts.download("missing.bin", tmp.resolve("m")));
    assertFalse(Files.exists(tmp.resolve("m")));
    InvalidArgumentException escape =
        assertThrows(
            InvalidArgumentException.class,
            () -> artifacts.upload("../escape.txt", new ByteArrayInputStream(new byte[] {1})));
    assertFalse(escape.getMessage().isEmpty());
    assertThrows(
        NotFoundException.class,
        () ->
            client
                .artifacts("0123456789abcdef0123456789abcdef")
                .upload("x.txt", new ByteArrayInputStream(new byte[] {1})));
    assertThrows(NotFoundException.class, () -> artifacts.delete("nothing/here"));
  }

  @Test
  void aFailingOutputStreamEndsTheDownload() throws Exception {
    Artifacts artifacts = client.artifacts(client.createRun(experimentId).getInfo().getRunId());
    artifacts.upload("big.bin", new ByteArrayInputStream(randomBytes(4 * 1024 * 1024, 3)));
    OutputStream broken =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            throw new IOException("disk full");
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            throw new IOException("disk full");
          }
        };
    IOException failure =
        assertThrows(IOException.class, () -> artifacts.download("big.bin", broken));
    assertEquals("disk full", failure.getMessage());
    // The client is still usable: the broken call was cancelled, not left open.
    assertEquals(4 * 1024 * 1024, artifacts.stat("big.bin").getSize());
  }

  @Test
  void aCutUploadLeavesNothingVisible() throws Exception {
    Artifacts artifacts = client.artifacts(client.createRun(experimentId).getInfo().getRunId());
    InputStream failing =
        new InputStream() {
          private int sent;

          @Override
          public int read() throws IOException {
            if (sent++ >= 2 * 1024 * 1024) {
              throw new IOException("source went away");
            }
            return 42;
          }
        };
    IOException cut = assertThrows(IOException.class, () -> artifacts.upload("cut.bin", failing));
    assertEquals("source went away", cut.getMessage());
    assertThrows(NotFoundException.class, () -> artifacts.stat("cut.bin"));
    assertTrue(artifacts.list().isEmpty());
  }
}
