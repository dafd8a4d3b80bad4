/* Registry upload page: sends the file to the import API, then follows the
 * import job until it succeeds or fails, showing its progress. The upload
 * itself goes through XMLHttpRequest, the one browser API that reports how
 * much of a request body has been sent. Texts come translated from the
 * page's JSON block (#upload-config). */
(function () {
  "use strict";

  const form = document.getElementById("upload-form");
  if (!form) {
    return; // nothing this account may edit
  }
  const config = JSON.parse(document.getElementById("upload-config").textContent);
  const text = config.strings;
  const locale = config.language === "vi" ? "vi-VN" : "en-GB";
  const integerFormat = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });

  const layerSelect = document.getElementById("layer-select");
  const fileInput = document.getElementById("file-input");
  const modeSelect = document.getElementById("mode-select");
  const button = document.getElementById("upload-button");
  const progress = document.getElementById("import-progress");
  const statusNode = document.getElementById("import-status");
  const errorNode = document.getElementById("import-error");
  const mapLink = document.getElementById("import-map-link");
  const errorsLink = document.getElementById("import-errors-link");
  const csrfToken = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
  const replaceBox = document.getElementById("replace-confirm");
  const replaceInput = document.getElementById("replace-confirm-input");
  const templateLink = document.getElementById("template-link");

  // Replacing deletes every feature of the layer: it needs the box ticked.
  function syncMode() {
    const replacing = modeSelect.value === "replace";
    replaceBox.hidden = !replacing;
    replaceInput.required = replacing;
    if (!replacing) {
      replaceInput.checked = false;
    }
  }
  modeSelect.addEventListener("change", syncMode);
  syncMode();

  function syncTemplate() {
    templateLink.href = layerSelect.selectedOptions[0].dataset.templateUrl;
  }
  layerSelect.addEventListener("change", syncTemplate);
  syncTemplate();

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function setStatus(message) {
    statusNode.textContent = message || "";
  }

  function setError(message) {
    errorNode.textContent = message || "";
    errorNode.hidden = !message;
  }

  // A number between 0 and 1, or null while the total is unknown: an
  // indeterminate bar (no value attribute) says "working" without a number.
  function setProgress(fraction) {
    if (fraction === null || fraction === undefined) {
      progress.removeAttribute("value");
    } else {
      progress.value = Math.max(0, Math.min(1, fraction));
    }
    progress.dataset.state = fraction === null || fraction === undefined ? "indeterminate" : "determinate";
  }

  // API messages are written "Tiếng Việt / English": the page's half.
  function inLanguage(message) {
    const parts = String(message === null || message === undefined ? "" : message).split(" / ");
    if (parts.length !== 2) {
      return parts.join(" / ");
    }
    return config.language === "en" ? parts[1] : parts[0];
  }

  // 400/413 bodies name each bad field; others carry `detail`.
  function describeBody(status, body) {
    if (body && typeof body === "object") {
      if (typeof body.detail === "string") {
        return inLanguage(body.detail);
      }
      const parts = Object.entries(body).map(
        ([name, messages]) => name + ": " + [].concat(messages).map(inLanguage).join(" ")
      );
      if (parts.length) {
        return parts.join("; ");
      }
    }
    return "HTTP " + status;
  }

  // `links` are absolute; behind a proxy their host may not be the page's.
  function sameOriginPath(url) {
    const parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  }

  function upload(url, data) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", url);
      request.setRequestHeader("X-CSRFToken", csrfToken);
      request.setRequestHeader("Accept", "application/json");
      request.responseType = "json";
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          // The upload fills the first tenth of the bar; the import the rest.
          setProgress((0.1 * event.loaded) / event.total);
          setStatus(fill(text.uploading, { percent: Math.round((100 * event.loaded) / event.total) }));
        }
      });
      request.addEventListener("load", () => resolve({ status: request.status, body: request.response }));
      request.addEventListener("error", () => reject(new Error(text.networkError)));
      request.send(data);
    });
  }

  async function getJob(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      throw new Error(text.networkError, { cause: error });
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error(fill(text.requestFailed, { message: describeBody(response.status, body) }));
    }
    return body;
  }

  function showJob(job) {
    progress.dataset.status = job.status;
    if (job.status === "queued") {
      setProgress(0.1);
      if (job.published === false) {
        // The task queue is down: the job waits in the database and starts
        // by itself once the queue is back (the outbox sweep sends it).
        setStatus(text.queuedWaiting);
      } else if (job.attempts) {
        setStatus(fill(text.requeued, { attempt: job.attempts + 1, max: job.max_attempts }));
      } else {
        setStatus(text.queued);
      }
    } else if (job.status === "running") {
      setProgress(job.progress === null ? null : 0.1 + 0.9 * job.progress);
      const done = integerFormat.format(job.rows_done || 0);
      setStatus(
        job.rows_total
          ? fill(text.running, { done: done, total: integerFormat.format(job.rows_total) })
          : fill(text.runningUnknown, { done: done })
      );
    } else if (job.status === "succeeded") {
      setProgress(1);
      setStatus(fill(text.succeeded, { message: inLanguage(job.message) }));
    } else if (job.status === "failed") {
      setProgress(0);
      setStatus("");
      setError(fill(text.failed, { message: inLanguage(job.message) }));
    }
    if (job.links && job.links.errors) {
      errorsLink.href = sameOriginPath(job.links.errors);
      errorsLink.hidden = false;
    }
  }

  function wait(milliseconds) {
    return new Promise((resolve) => window.setTimeout(resolve, milliseconds));
  }

  async function follow(job) {
    showJob(job);
    const url = sameOriginPath(job.links.self);
    while (job.status === "queued" || job.status === "running") {
      await wait(config.pollMs);
      job = await getJob(url);
      showJob(job);
    }
    return job;
  }

  async function submit(event) {
    event.preventDefault();
    setError("");
    mapLink.hidden = true;
    errorsLink.hidden = true;
    if (!fileInput.files.length) {
      setError(text.chooseFile);
      fileInput.focus();
      return;
    }
    if (modeSelect.value === "replace" && !replaceInput.checked) {
      setError(text.confirmReplace);
      replaceInput.focus();
      return;
    }
    const option = layerSelect.selectedOptions[0];
    const data = new FormData();
    data.append("file", fileInput.files[0]);
    data.append("mode", modeSelect.value);
    button.disabled = true;
    progress.dataset.status = "uploading";
    setProgress(0);
    try {
      const sent = await upload(option.dataset.importUrl, data);
      if (sent.status !== 202) {
        progress.dataset.status = "refused";
        setProgress(0);
        setStatus("");
        setError(fill(text.requestFailed, { message: describeBody(sent.status, sent.body) }));
        return;
      }
      const job = await follow(sent.body);
      if (job.status === "succeeded") {
        mapLink.href = option.dataset.mapUrl;
        mapLink.hidden = false;
        mapLink.focus();
      }
    } catch (error) {
      setStatus("");
      setError(error.message);
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", submit);
})();
