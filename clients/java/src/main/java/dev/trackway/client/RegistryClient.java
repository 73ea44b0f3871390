package dev.trackway.client;

import com.google.protobuf.FieldMask;
import dev.trackway.registry.v1.CreateModelVersionRequest;
import dev.trackway.registry.v1.CreateRegisteredModelRequest;
import dev.trackway.registry.v1.DeleteModelVersionRequest;
import dev.trackway.registry.v1.DeleteModelVersionTagRequest;
import dev.trackway.registry.v1.DeleteRegisteredModelAliasRequest;
import dev.trackway.registry.v1.DeleteRegisteredModelRequest;
import dev.trackway.registry.v1.DeleteRegisteredModelTagRequest;
import dev.trackway.registry.v1.GetLatestVersionsRequest;
import dev.trackway.registry.v1.GetModelVersionByAliasRequest;
import dev.trackway.registry.v1.GetModelVersionDownloadUriRequest;
import dev.trackway.registry.v1.GetModelVersionRequest;
import dev.trackway.registry.v1.GetRegisteredModelRequest;
import dev.trackway.registry.v1.ListRunModelVersionsRequest;
import dev.trackway.registry.v1.ListRunModelVersionsResponse;
import dev.trackway.registry.v1.ModelVersion;
import dev.trackway.registry.v1.ModelVersionStage;
import dev.trackway.registry.v1.ModelVersionTag;
import dev.trackway.registry.v1.RegisteredModel;
import dev.trackway.registry.v1.RegisteredModelTag;
import dev.trackway.registry.v1.RenameRegisteredModelRequest;
import dev.trackway.registry.v1.ResolveModelUriRequest;
import dev.trackway.registry.v1.ResolveModelUriResponse;
import dev.trackway.registry.v1.SearchModelVersionsRequest;
import dev.trackway.registry.v1.SearchModelVersionsResponse;
import dev.trackway.registry.v1.SearchRegisteredModelsRequest;
import dev.trackway.registry.v1.SearchRegisteredModelsResponse;
import dev.trackway.registry.v1.SetModelVersionTagRequest;
import dev.trackway.registry.v1.SetRegisteredModelAliasRequest;
import dev.trackway.registry.v1.SetRegisteredModelTagRequest;
import dev.trackway.registry.v1.TransitionModelVersionStageRequest;
import dev.trackway.registry.v1.UpdateModelVersionRequest;
import dev.trackway.registry.v1.UpdateRegisteredModelRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The model registry: registered models addressed by name, their numbered versions, tags, aliases
 * and stages. Obtained from {@link TrackwayClient#registry()}; entities are the generated {@code
 * dev.trackway.registry.v1} messages.
 */
public final class RegistryClient {
  private static final FieldMask DESCRIPTION =
      FieldMask.newBuilder().addPaths("description").build();

  private final Calls calls;

  RegistryClient(Calls calls) {
    this.calls = calls;
  }

  // Registered models

  public RegisteredModel createRegisteredModel(String name) {
    return createRegisteredModel(name, "", Map.of());
  }

  /** Creates a model without versions; AlreadyExistsException when the name is taken. */
  public RegisteredModel createRegisteredModel(
      String name, String description, Map<String, String> tags) {
    CreateRegisteredModelRequest.Builder request =
        CreateRegisteredModelRequest.newBuilder()
            .setName(name)
            .setDescription(description)
            .setRequestId(Calls.requestId());
    tags.forEach((k, v) -> request.addTags(RegisteredModelTag.newBuilder().setKey(k).setValue(v)));
    CreateRegisteredModelRequest built = request.build();
    return calls.call(() -> calls.registry().createRegisteredModel(built)).getRegisteredModel();
  }

  /** A model with its tags, aliases and latest version per stage. */
  public RegisteredModel getRegisteredModel(String name) {
    GetRegisteredModelRequest request =
        GetRegisteredModelRequest.newBuilder().setName(name).build();
    return calls.call(() -> calls.registry().getRegisteredModel(request)).getRegisteredModel();
  }

  /** Renames a model; its versions, tags and aliases follow. */
  public RegisteredModel renameRegisteredModel(String name, String newName) {
    RenameRegisteredModelRequest request =
        RenameRegisteredModelRequest.newBuilder()
            .setName(name)
            .setNewName(newName)
            .setRequestId(Calls.requestId())
            .build();
    return calls.call(() -> calls.registry().renameRegisteredModel(request)).getRegisteredModel();
  }

  /** Replaces a model's description (empty clears it). */
  public RegisteredModel updateRegisteredModel(String name, String description) {
    return updateRegisteredModel(name, description, 0);
  }

  /**
   * Replaces a model's description only if its last_updated_timestamp still equals {@code
   * expectedLastUpdated} (0: unconditionally); AbortedException when another change came first.
   */
  public RegisteredModel updateRegisteredModel(
      String name, String description, long expectedLastUpdated) {
    UpdateRegisteredModelRequest request =
        UpdateRegisteredModelRequest.newBuilder()
            .setName(name)
            .setDescription(description)
            .setUpdateMask(DESCRIPTION)
            .setExpectedLastUpdatedTimestamp(expectedLastUpdated)
            .setRequestId(Calls.requestId())
            .build();
    return calls.call(() -> calls.registry().updateRegisteredModel(request)).getRegisteredModel();
  }

  /** Deletes a model for good, with its versions, tags and aliases; the files stay. */
  public void deleteRegisteredModel(String name) {
    DeleteRegisteredModelRequest request =
        DeleteRegisteredModelRequest.newBuilder()
            .setName(name)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().deleteRegisteredModel(request));
  }

  public void setRegisteredModelTag(String name, String key, String value) {
    SetRegisteredModelTagRequest request =
        SetRegisteredModelTagRequest.newBuilder()
            .setName(name)
            .setTag(RegisteredModelTag.newBuilder().setKey(key).setValue(value))
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().setRegisteredModelTag(request));
  }

  public void deleteRegisteredModelTag(String name, String key) {
    DeleteRegisteredModelTagRequest request =
        DeleteRegisteredModelTagRequest.newBuilder()
            .setName(name)
            .setKey(key)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().deleteRegisteredModelTag(request));
  }

  /** One page of models matching the query, e.g. {@code name LIKE 'fraud-%'}. */
  public Page<RegisteredModel> searchRegisteredModels(Query query) {
    SearchRegisteredModelsRequest request =
        SearchRegisteredModelsRequest.newBuilder()
            .setFilter(query.filter())
            .addAllOrderBy(query.orderBy())
            .setPageSize(query.pageSize())
            .setPageToken(query.pageToken())
            .build();
    SearchRegisteredModelsResponse reply =
        calls.call(() -> calls.registry().searchRegisteredModels(request));
    return new Page<>(reply.getRegisteredModelsList(), reply.getNextPageToken());
  }

  public List<RegisteredModel> searchAllRegisteredModels(Query query) {
    return TrackwayClient.allPages(query, this::searchRegisteredModels);
  }

  /** The newest READY version in each of these stages (none: all four) that has one. */
  public List<ModelVersion> getLatestVersions(String name, ModelVersionStage... stages) {
    GetLatestVersionsRequest request =
        GetLatestVersionsRequest.newBuilder().setName(name).addAllStages(List.of(stages)).build();
    return calls.call(() -> calls.registry().getLatestVersions(request)).getModelVersionsList();
  }

  // Aliases

  /** Points an alias at a version, moving it if it exists; returns the version. */
  public ModelVersion setAlias(String name, String alias, long version) {
    SetRegisteredModelAliasRequest request =
        SetRegisteredModelAliasRequest.newBuilder()
            .setName(name)
            .setAlias(alias)
            .setVersion(version)
            .setRequestId(Calls.requestId())
            .build();
    return calls.call(() -> calls.registry().setRegisteredModelAlias(request)).getModelVersion();
  }

  public void deleteAlias(String name, String alias) {
    DeleteRegisteredModelAliasRequest request =
        DeleteRegisteredModelAliasRequest.newBuilder()
            .setName(name)
            .setAlias(alias)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().deleteRegisteredModelAlias(request));
  }

  public ModelVersion getModelVersionByAlias(String name, String alias) {
    GetModelVersionByAliasRequest request =
        GetModelVersionByAliasRequest.newBuilder().setName(name).setAlias(alias).build();
    return calls.call(() -> calls.registry().getModelVersionByAlias(request)).getModelVersion();
  }

  // Versions

  /**
   * Registers a new version from {@code source}: an artifact URI below the server's root, {@code
   * runs:/<run_id>/<path>} or {@code models:/...}. {@code runId} may be empty.
   */
  public ModelVersion createModelVersion(String name, String source, String runId) {
    return createModelVersion(
        CreateModelVersionRequest.newBuilder()
            .setName(name)
            .setSource(source)
            .setRunId(runId)
            .build());
  }

  /** Registers a version from a full request (description, tags, run link); adds a request_id. */
  public ModelVersion createModelVersion(CreateModelVersionRequest request) {
    CreateModelVersionRequest built =
        request.getRequestId().isEmpty()
            ? request.toBuilder().setRequestId(Calls.requestId()).build()
            : request;
    return calls.call(() -> calls.registry().createModelVersion(built)).getModelVersion();
  }

  public ModelVersion getModelVersion(String name, long version) {
    GetModelVersionRequest request =
        GetModelVersionRequest.newBuilder().setName(name).setVersion(version).build();
    return calls.call(() -> calls.registry().getModelVersion(request)).getModelVersion();
  }

  /** Replaces a version's description (empty clears it). */
  public ModelVersion updateModelVersion(String name, long version, String description) {
    UpdateModelVersionRequest request =
        UpdateModelVersionRequest.newBuilder()
            .setName(name)
            .setVersion(version)
            .setDescription(description)
            .setUpdateMask(DESCRIPTION)
            .setRequestId(Calls.requestId())
            .build();
    return calls.call(() -> calls.registry().updateModelVersion(request)).getModelVersion();
  }

  /** Deletes a version for good; its number is never reused and its files stay. */
  public void deleteModelVersion(String name, long version) {
    DeleteModelVersionRequest request =
        DeleteModelVersionRequest.newBuilder()
            .setName(name)
            .setVersion(version)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().deleteModelVersion(request));
  }

  public void setModelVersionTag(String name, long version, String key, String value) {
    SetModelVersionTagRequest request =
        SetModelVersionTagRequest.newBuilder()
            .setName(name)
            .setVersion(version)
            .setTag(ModelVersionTag.newBuilder().setKey(key).setValue(value))
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().setModelVersionTag(request));
  }

  public void deleteModelVersionTag(String name, long version, String key) {
    DeleteModelVersionTagRequest request =
        DeleteModelVersionTagRequest.newBuilder()
            .setName(name)
            .setVersion(version)
            .setKey(key)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.registry().deleteModelVersionTag(request));
  }

  /** One page of versions matching the query, e.g. {@code name = 'm' AND version > 2}. */
  public Page<ModelVersion> searchModelVersions(Query query) {
    SearchModelVersionsRequest request =
        SearchModelVersionsRequest.newBuilder()
            .setFilter(query.filter())
            .addAllOrderBy(query.orderBy())
            .setPageSize(query.pageSize())
            .setPageToken(query.pageToken())
            .build();
    SearchModelVersionsResponse reply =
        calls.call(() -> calls.registry().searchModelVersions(request));
    return new Page<>(reply.getModelVersionsList(), reply.getNextPageToken());
  }

  public List<ModelVersion> searchAllModelVersions(Query query) {
    return TrackwayClient.allPages(query, this::searchModelVersions);
  }

  /**
   * Moves a version to a stage; with {@code archiveExisting} (Staging and Production only) the
   * model's other versions in that stage move to Archived in the same transaction.
   */
  public ModelVersion transitionStage(
      String name, long version, ModelVersionStage stage, boolean archiveExisting) {
    TransitionModelVersionStageRequest request =
        TransitionModelVersionStageRequest.newBuilder()
            .setName(name)
            .setVersion(version)
            .setStage(stage)
            .setArchiveExistingVersions(archiveExisting)
            .setRequestId(Calls.requestId())
            .build();
    return calls
        .call(() -> calls.registry().transitionModelVersionStage(request))
        .getModelVersion();
  }

  /** The artifact URI to read a version's files from. */
  public String getModelVersionDownloadUri(String name, long version) {
    GetModelVersionDownloadUriRequest request =
        GetModelVersionDownloadUriRequest.newBuilder().setName(name).setVersion(version).build();
    return calls.call(() -> calls.registry().getModelVersionDownloadUri(request)).getArtifactUri();
  }

  /** The versions registered from a run, every page. */
  public List<ModelVersion> listRunModelVersions(String runId) {
    List<ModelVersion> found = new ArrayList<>();
    String token = "";
    do {
      ListRunModelVersionsRequest request =
          ListRunModelVersionsRequest.newBuilder().setRunId(runId).setPageToken(token).build();
      ListRunModelVersionsResponse reply =
          calls.call(() -> calls.registry().listRunModelVersions(request));
      found.addAll(reply.getModelVersionsList());
      token = reply.getNextPageToken();
    } while (!token.isEmpty());
    return found;
  }

  /**
   * Resolves {@code models:/<name>/<version>}, {@code models:/<name>@<alias>}, {@code
   * models:/<name>/<stage>}, {@code models:/<name>/latest} or {@code runs:/<run_id>/<path>} to the
   * artifact URI it points at, with the version and run behind it.
   */
  public ResolveModelUriResponse resolveModelUri(String uri) {
    ResolveModelUriRequest request = ResolveModelUriRequest.newBuilder().setUri(uri).build();
    return calls.call(() -> calls.registry().resolveModelUri(request));
  }
}
