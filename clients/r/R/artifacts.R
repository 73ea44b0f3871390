# A run's files, through the artifact HTTP form: PUT and GET of raw bytes at
# /v1/runs/{run_id}/artifacts/{path}. Bodies stream between the socket and files on
# disk, so memory stays flat whatever the size.

upload_rpc <- "trackway.artifacts.v1.ArtifactService/Upload"
download_rpc <- "trackway.artifacts.v1.ArtifactService/Download"

artifact_url_path <- function(run_id, artifact_path) {
  paste0(
    "/v1/runs/", percent_encode(run_id), "/artifacts/",
    percent_encode(artifact_path, keep_slash = TRUE)
  )
}

# Joins artifact path parts with single slashes, dropping empty parts.
join_artifact_path <- function(...) {
  parts <- unlist(list(...), use.names = FALSE)
  parts <- gsub("^/+|/+$", "", parts)
  parts <- parts[nzchar(parts)]
  paste(parts, collapse = "/")
}

tw_log_artifact <- function(path, artifact_path = NULL, run_id = NULL, client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  if (length(path) != 1 || !file.exists(path)) {
    abort_code("INVALID_ARGUMENT", "no such file or folder: ", path)
  }
  if (dir.exists(path)) {
    files <- list.files(path, recursive = TRUE, all.files = TRUE, no.. = TRUE)
    local <- file.path(path, files)
    remote <- vapply(files, function(f) join_artifact_path(artifact_path, f), character(1))
  } else {
    local <- path
    remote <- join_artifact_path(artifact_path, basename(path))
  }
  for (i in seq_along(local)) {
    upload_file(run_id, local[[i]], remote[[i]], client)
  }
  invisible(unname(remote))
}

# Streams one file as the body of a PUT. The file is read here rather than through
# httr2::req_body_file(), whose connection stays open when the server answers before
# reading the whole body (a refused path) or when the file is empty.
upload_file <- function(run_id, local, remote, client) {
  con <- file(local, "rb")
  on.exit(close(con), add = TRUE)
  req <- new_request(client, artifact_url_path(run_id, remote), "PUT", timeout = FALSE)
  req <- httr2::req_headers(req, `Content-Type` = "application/octet-stream")
  req <- httr2::req_options(
    req,
    post = TRUE, postfieldsize_large = file.size(local),
    readfunction = function(nbytes, ...) readBin(con, "raw", nbytes)
  )
  perform(req, client, upload_rpc)
}

tw_list_artifacts <- function(path = "", run_id = NULL, client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  files <- list_folder(run_id, path, client)
  data.frame(
    path = vapply(files, function(f) json_field(f, "path", ""), character(1)),
    is_dir = vapply(files, function(f) isTRUE(json_field(f, "is_dir", FALSE)), logical(1)),
    size = json_int64s(lapply(files, function(f) json_field(f, "size", "0"))),
    stringsAsFactors = FALSE
  )
}

# The FileInfo entries of a folder's direct children, every page.
list_folder <- function(run_id, path, client) {
  request <- list(scope = list(run_id = run_id), path = path)
  files <- list()
  repeat {
    page <- tw_artifacts_list_artifacts(request, client = client)
    files <- c(files, page$files)
    token <- json_field(page, "next_page_token", "")
    if (!nzchar(token)) break
    request$page_token <- token
  }
  files
}

# The paths of every file below a folder.
files_below <- function(run_id, path, client) {
  found <- character()
  for (f in list_folder(run_id, path, client)) {
    child <- json_field(f, "path", "")
    found <- c(found, if (isTRUE(json_field(f, "is_dir", FALSE))) {
      files_below(run_id, child, client)
    } else {
      child
    })
  }
  found
}

tw_download_artifact <- function(artifact_path = "", dst_path = NULL, run_id = NULL,
                                 client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  artifact_path <- join_artifact_path(artifact_path)
  dst_path <- dst_path %||% tempfile("trackway-artifacts-")
  dir.create(dst_path, recursive = TRUE, showWarnings = FALSE)
  stat <- tw_artifacts_stat_artifact(
    list(scope = list(run_id = run_id), path = artifact_path),
    client = client
  )
  if (!isTRUE(json_field(stat$file, "is_dir", FALSE))) {
    local <- file.path(dst_path, basename(artifact_path))
    download_file(run_id, artifact_path, local, client)
    return(local)
  }
  # A folder lands as dst_path/<its name>/..., the root as dst_path/...
  parent <- if (nzchar(artifact_path)) dirname(artifact_path) else "."
  prefix <- if (parent == ".") "" else paste0(parent, "/")
  for (remote in files_below(run_id, artifact_path, client)) {
    download_file(run_id, remote, file.path(dst_path, substring(remote, nchar(prefix) + 1)), client)
  }
  if (nzchar(artifact_path)) file.path(dst_path, basename(artifact_path)) else dst_path
}

# Streams one file into `local`, through a .part file so that a failed transfer never
# leaves a truncated file under the final name.
download_file <- function(run_id, remote, local, client) {
  dir.create(dirname(local), recursive = TRUE, showWarnings = FALSE)
  part <- paste0(local, ".part")
  on.exit(unlink(part), add = TRUE)
  req <- new_request(client, artifact_url_path(run_id, remote), "GET", timeout = FALSE)
  req <- httr2::req_headers(req, Accept = "*/*")
  perform(req, client, download_rpc, path = part)
  if (!file.rename(part, local)) {
    stop("cannot move the downloaded file to ", local, call. = FALSE)
  }
  local
}
