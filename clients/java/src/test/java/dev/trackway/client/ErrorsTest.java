package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** Server errors become typed exceptions with the server's message, reason and details. */
@ExtendWith(TrackwayServerExtension.class)
class ErrorsTest {
  private static TrackwayClient client;

  @BeforeAll
  static void connect(TrackwayServer server, TestInfo test) {
    client = OverHttp.builder(server, test).build();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void notFoundCarriesTheReason() {
    NotFoundException missing =
        assertThrows(
            NotFoundException.class, () -> client.getRun("0123456789abcdef0123456789abcdef"));
    assertEquals(Status.Code.NOT_FOUND, missing.code());
    assertEquals("RESOURCE_DOES_NOT_EXIST", missing.reason());
    assertTrue(
        missing.getMessage().contains("0123456789abcdef0123456789abcdef"), missing.getMessage());
    assertInstanceOf(TrackwayException.class, missing);
  }

  @Test
  void invalidArgumentNamesTheFields() {
    InvalidArgumentException bad =
        assertThrows(InvalidArgumentException.class, () -> client.getRun("nope"));
    assertEquals("INVALID_PARAMETER_VALUE", bad.reason());
    assertFalse(bad.violations().isEmpty());
    assertEquals("run_id", bad.violations().get(0).field());
    assertFalse(bad.violations().get(0).description().isEmpty());
  }

  @Test
  void alreadyExistsAndFailedPrecondition() {
    String name = TrackingTest.unique("dup");
    String id = client.createExperiment(name).getExperimentId();
    AlreadyExistsException dup =
        assertThrows(AlreadyExistsException.class, () -> client.createExperiment(name));
    assertEquals("RESOURCE_ALREADY_EXISTS", dup.reason());

    FailedPreconditionException active =
        assertThrows(FailedPreconditionException.class, () -> client.purgeExperiment(id));
    assertEquals("INVALID_STATE", active.reason());
  }

  @Test
  void abortedCarriesTheCurrentTimestamp() {
    RegistryClient registry = client.registry();
    String name = TrackingTest.unique("conflict");
    long stamp = registry.createRegisteredModel(name).getLastUpdatedTimestamp();
    registry.updateRegisteredModel(name, "someone else's change");
    AbortedException stale =
        assertThrows(
            AbortedException.class, () -> registry.updateRegisteredModel(name, "mine", stamp));
    assertEquals("RESOURCE_CONFLICT", stale.reason());
    assertEquals(
        String.valueOf(registry.getRegisteredModel(name).getLastUpdatedTimestamp()),
        stale.metadata().get("last_updated_timestamp"));
  }

  @Test
  void everyCodeMapsToItsClass() {
    Map<Status.Code, Class<? extends TrackwayException>> expected =
        Map.ofEntries(
            Map.entry(Status.Code.NOT_FOUND, NotFoundException.class),
            Map.entry(Status.Code.INVALID_ARGUMENT, InvalidArgumentException.class),
            Map.entry(Status.Code.OUT_OF_RANGE, InvalidArgumentException.class),
            Map.entry(Status.Code.ALREADY_EXISTS, AlreadyExistsException.class),
            Map.entry(Status.Code.FAILED_PRECONDITION, FailedPreconditionException.class),
            Map.entry(Status.Code.ABORTED, AbortedException.class),
            Map.entry(Status.Code.UNAVAILABLE, UnavailableException.class),
            Map.entry(Status.Code.DEADLINE_EXCEEDED, UnavailableException.class),
            Map.entry(Status.Code.RESOURCE_EXHAUSTED, UnavailableException.class),
            Map.entry(Status.Code.DATA_LOSS, DataLossException.class),
            Map.entry(Status.Code.UNAUTHENTICATED, UnauthenticatedException.class),
            Map.entry(Status.Code.PERMISSION_DENIED, PermissionDeniedException.class),
            Map.entry(Status.Code.UNIMPLEMENTED, TrackwayException.class),
            Map.entry(Status.Code.INTERNAL, TrackwayException.class));
    expected.forEach(
        (code, type) -> {
          TrackwayException mapped =
              Errors.from(code.toStatus().withDescription("boom").asRuntimeException(), "t");
          assertEquals(type, mapped.getClass(), code.name());
          assertEquals(code, mapped.code());
        });
    assertTrue(
        Errors.from(Status.UNIMPLEMENTED.withDescription("boom").asRuntimeException(), "t")
            .getMessage()
            .startsWith("UNIMPLEMENTED: "));
  }

  @Test
  void statusDetailsAreRead() {
    com.google.rpc.Status detailed =
        com.google.rpc.Status.newBuilder()
            .setCode(Code.DATA_LOSS_VALUE)
            .setMessage("sha256 differs")
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder()
                        .setDomain("trackway.dev")
                        .setReason("CHECKSUM_MISMATCH")
                        .putMetadata("path", "a.bin")
                        .build()))
            .addDetails(
                Any.pack(
                    BadRequest.newBuilder()
                        .addFieldViolations(
                            BadRequest.FieldViolation.newBuilder()
                                .setField("expected_sha256")
                                .setDescription("differs"))
                        .build()))
            .build();
    StatusRuntimeException wire = StatusProto.toStatusRuntimeException(detailed);
    TrackwayException mapped = Errors.from(wire, "t");
    assertInstanceOf(DataLossException.class, mapped);
    assertEquals("sha256 differs", mapped.getMessage());
    assertEquals("CHECKSUM_MISMATCH", mapped.reason());
    assertEquals(Map.of("path", "a.bin"), mapped.metadata());
    assertEquals("expected_sha256", mapped.violations().get(0).field());
  }
}
