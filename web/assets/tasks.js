// /tasks: list, add, edit in place, toggle complete, delete with confirmation, filter, sort.
// Every call goes through auth.js's apiRequest (Authorization: Bearer <JWT from memory>).

import { apiRequest, currentUserId, HttpError, SignedOut } from './auth.js';
import { startShell, showPageError } from './shell.js';
import { $, busy, clearErrors, formatDate, h, setFieldError, setMessage, showError, validate } from './ui.js';

const STATUSES = ['all', 'pending', 'completed'];
const SORTS = ['created', 'title'];
const TITLE_MAX = 200;
const DESCRIPTION_MAX = 1000;

const list = $('task-list');
const loading = $('loading');
const empty = $('empty');
const status = $('status');
const count = $('task-count');
const addForm = $('add-form');
const newTitle = $('new-title');
const newDescription = $('new-description');
const sortSelect = $('sort');
const filterButtons = [...document.querySelectorAll('button.filter')];

const params = new URLSearchParams(window.location.search);
const state = {
  userId: null,
  tasks: [],
  status: STATUSES.includes(params.get('status')) ? params.get('status') : 'all',
  sort: SORTS.includes(params.get('sort')) ? params.get('sort') : 'created',
  editing: null, // id of the task being edited
  confirming: null, // id of the task awaiting delete confirmation
  loaded: false,
};

const domId = (id) => String(id).replace(/[^A-Za-z0-9_-]/g, '_');
const base = () => `/api/${encodeURIComponent(state.userId)}/tasks`;
const taskUrl = (id) => `${base()}/${encodeURIComponent(id)}`;

function announce(message) {
  // Clear first so the same message twice is announced twice.
  status.textContent = '';
  setTimeout(() => {
    status.textContent = message;
  }, 50);
}

function matchesFilter(task) {
  if (state.status === 'pending') return !task.completed;
  if (state.status === 'completed') return !!task.completed;
  return true;
}

function sortTasks(tasks) {
  const sorted = [...tasks];
  if (state.sort === 'title') {
    sorted.sort((a, b) => String(a.title).localeCompare(String(b.title), undefined, { sensitivity: 'base' }));
  } else {
    sorted.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  }
  return sorted;
}

function syncUrl() {
  const url = new URL(window.location.href);
  if (state.status === 'all') url.searchParams.delete('status');
  else url.searchParams.set('status', state.status);
  if (state.sort === 'created') url.searchParams.delete('sort');
  else url.searchParams.set('sort', state.sort);
  window.history.replaceState(null, '', url.pathname + url.search);
}

function syncControls() {
  for (const button of filterButtons) {
    button.setAttribute('aria-pressed', String(button.dataset.status === state.status));
  }
  sortSelect.value = state.sort;
}

const EMPTY_TEXT = {
  all: ['No tasks yet', 'Add your first task above.'],
  pending: ['Nothing pending', 'Every task is done. Nice work.'],
  completed: ['Nothing completed yet', 'Tick a task when it is done and it shows up here.'],
};

function render() {
  const shown = sortTasks(state.tasks.filter(matchesFilter));
  loading.hidden = state.loaded;
  empty.hidden = !state.loaded || shown.length > 0;
  const [title, text] = EMPTY_TEXT[state.status];
  $('empty-title').textContent = title;
  $('empty-text').textContent = text;
  count.textContent = state.loaded ? `(${shown.length})` : '';
  const focusedId = document.activeElement && document.activeElement.id;
  list.replaceChildren(...shown.map(renderTask));
  if (focusedId) {
    const again = document.getElementById(focusedId);
    if (again) again.focus();
  }
}

function renderTask(task) {
  if (state.editing === task.id) return renderEditor(task);
  const id = domId(task.id);
  const checkbox = h('input', {
    type: 'checkbox',
    id: `task-${id}-done`,
    class: 'task-check',
    checked: !!task.completed,
    'aria-describedby': task.description ? `task-${id}-desc` : undefined,
  });
  checkbox.addEventListener('change', () => toggle(task, checkbox));

  const text = h(
    'div',
    { class: 'task-text' },
    h('label', { for: `task-${id}-done`, class: 'task-title', text: task.title }),
    task.description ? h('p', { id: `task-${id}-desc`, class: 'task-desc', text: task.description }) : null,
    h('p', { class: 'task-meta' }, task.completed ? 'Completed · ' : '', `Added ${formatDate(task.created_at)}`),
  );

  let actions;
  if (state.confirming === task.id) {
    const yes = h('button', { type: 'button', class: 'danger small', id: `task-${id}-confirm` }, 'Delete');
    const no = h('button', { type: 'button', class: 'secondary small', id: `task-${id}-cancel` }, 'Cancel');
    yes.addEventListener('click', () => remove(task, yes));
    no.addEventListener('click', () => {
      state.confirming = null;
      render();
      document.getElementById(`task-${id}-delete`)?.focus();
    });
    actions = h(
      'div',
      { class: 'task-actions confirm-inline', role: 'group', 'aria-labelledby': `task-${id}-question` },
      h('span', { id: `task-${id}-question`, class: 'confirm-question' }, 'Delete this task?'),
      yes,
      no,
    );
    actions.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') no.click();
    });
  } else {
    const edit = h('button', { type: 'button', class: 'secondary small', id: `task-${id}-edit`, 'aria-label': `Edit “${task.title}”` }, 'Edit');
    const del = h('button', { type: 'button', class: 'danger-outline small', id: `task-${id}-delete`, 'aria-label': `Delete “${task.title}”` }, 'Delete');
    edit.addEventListener('click', () => {
      state.editing = task.id;
      state.confirming = null;
      render();
      document.getElementById(`edit-${id}-title`)?.focus();
    });
    del.addEventListener('click', () => {
      state.confirming = task.id;
      render();
      document.getElementById(`task-${id}-cancel`)?.focus();
    });
    actions = h('div', { class: 'task-actions' }, edit, del);
  }

  return h(
    'li',
    { class: task.completed ? 'task done' : 'task', 'data-task-id': String(task.id) },
    h('div', { class: 'task-main' }, checkbox, text),
    actions,
  );
}

function renderEditor(task) {
  const id = domId(task.id);
  const title = h('input', {
    id: `edit-${id}-title`,
    type: 'text',
    maxlength: TITLE_MAX,
    required: true,
    autocomplete: 'off',
    'aria-describedby': `edit-${id}-title-error`,
  });
  title.value = task.title;
  const description = h('textarea', {
    id: `edit-${id}-description`,
    rows: 2,
    maxlength: DESCRIPTION_MAX,
    'aria-describedby': `edit-${id}-description-error`,
  });
  description.value = task.description || '';
  const formError = h('div', { class: 'form-error', role: 'alert', 'aria-live': 'assertive' });
  const save = h('button', { type: 'submit', class: 'primary small' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'secondary small' }, 'Cancel');
  const form = h(
    'form',
    { class: 'task-editor', novalidate: true, 'aria-label': `Edit task “${task.title}”` },
    formError,
    h(
      'div',
      { class: 'field' },
      h('label', { for: title.id }, 'Title'),
      title,
      h('p', { id: `edit-${id}-title-error`, class: 'field-error', 'aria-live': 'polite' }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: description.id }, 'Description ', h('span', { class: 'optional' }, '(optional)')),
      description,
      h('p', { id: `edit-${id}-description-error`, class: 'field-error', 'aria-live': 'polite' }),
    ),
    h('div', { class: 'actions' }, save, cancel),
  );
  const close = () => {
    state.editing = null;
    render();
    document.getElementById(`task-${id}-edit`)?.focus();
  };
  cancel.addEventListener('click', close);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form, formError);
    const newTitleValue = title.value.trim();
    if (!validate([[title, titleProblem(newTitleValue)]])) return;
    await busy(form, 'Saving…', async () => {
      try {
        const updated = await apiRequest(taskUrl(task.id), {
          method: 'PUT',
          body: { title: newTitleValue, description: description.value.trim() || null, completed: !!task.completed },
        });
        replaceTask(updated);
        state.editing = null;
        render();
        document.getElementById(`task-${id}-edit`)?.focus();
        announce('Task updated.');
      } catch (err) {
        if (await handleGone(err)) return;
        showError(err, { form, formError, fields: { title, description } });
      }
    });
  });
  return h('li', { class: 'task editing', 'data-task-id': String(task.id) }, form);
}

function titleProblem(value) {
  if (!value) return 'Enter a title.';
  if (value.length > TITLE_MAX) return `Keep the title under ${TITLE_MAX} characters.`;
  return '';
}

function replaceTask(updated) {
  const i = state.tasks.findIndex((t) => t.id === updated.id);
  if (i >= 0) state.tasks[i] = updated;
  else state.tasks.push(updated);
}

/** A 404 means the task is gone (deleted elsewhere): say so and reload. */
async function handleGone(err) {
  if (err instanceof HttpError && err.status === 404) {
    setMessage($('page-error'), 'That task no longer exists. The list has been refreshed.');
    state.editing = null;
    state.confirming = null;
    await load();
    return true;
  }
  return false;
}

async function toggle(task, checkbox) {
  checkbox.disabled = true;
  setMessage($('page-error'), '');
  try {
    const updated = await apiRequest(`${taskUrl(task.id)}/complete`, { method: 'PATCH' });
    replaceTask(updated);
    render();
    const again = document.getElementById(`task-${domId(task.id)}-done`);
    (again || list.querySelector('.task-check') || newTitle).focus();
    announce(updated.completed ? `“${updated.title}” completed.` : `“${updated.title}” marked as not done.`);
  } catch (err) {
    checkbox.checked = !!task.completed;
    checkbox.disabled = false;
    if (err instanceof SignedOut || (await handleGone(err))) return;
    showPageError(err);
  }
}

async function remove(task, button) {
  button.disabled = true;
  setMessage($('page-error'), '');
  const shown = sortTasks(state.tasks.filter(matchesFilter));
  const index = shown.findIndex((t) => t.id === task.id);
  try {
    await apiRequest(taskUrl(task.id), { method: 'DELETE' });
    state.tasks = state.tasks.filter((t) => t.id !== task.id);
    state.confirming = null;
    render();
    const after = sortTasks(state.tasks.filter(matchesFilter));
    const neighbour = after[Math.min(index, after.length - 1)];
    const target = neighbour && document.getElementById(`task-${domId(neighbour.id)}-done`);
    (target || newTitle).focus();
    announce(`“${task.title}” deleted.`);
  } catch (err) {
    button.disabled = false;
    if (err instanceof SignedOut || (await handleGone(err))) return;
    showPageError(err);
  }
}

let loads = 0;

async function load() {
  const query = new URLSearchParams({ status: state.status, sort: state.sort });
  const mine = ++loads;
  list.setAttribute('aria-busy', 'true');
  try {
    const tasks = await apiRequest(`${base()}?${query}`);
    if (mine !== loads) return; // a newer load (another filter) is under way
    state.tasks = Array.isArray(tasks) ? tasks : [];
    state.loaded = true;
    render();
    list.removeAttribute('aria-busy');
  } catch (err) {
    if (mine === loads) list.removeAttribute('aria-busy');
    if (err instanceof SignedOut) return;
    showPageError(err);
    if (!state.loaded) loading.textContent = 'Tasks could not be loaded.';
  }
}

addForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(addForm, $('page-error'));
  const title = newTitle.value.trim();
  const description = newDescription.value.trim();
  const ok = validate([
    [newTitle, titleProblem(title)],
    [newDescription, description.length > DESCRIPTION_MAX ? `Keep the description under ${DESCRIPTION_MAX} characters.` : ''],
  ]);
  if (!ok || !state.userId) return;
  await busy(addForm, 'Adding…', async () => {
    try {
      const created = await apiRequest(base(), { method: 'POST', body: description ? { title, description } : { title } });
      state.tasks.push(created);
      if (!matchesFilter(created)) {
        // Show the new task: switch to "All" and fetch that list.
        state.status = 'all';
        syncControls();
        syncUrl();
        await load();
      } else {
        state.loaded = true;
        render();
      }
      newTitle.value = '';
      newDescription.value = '';
      announce(`“${created.title}” added.`);
    } catch (err) {
      showError(err, {
        form: addForm,
        formError: $('page-error'),
        fields: { title: newTitle, description: newDescription },
      });
    }
  });
  newTitle.focus();
});

// A new filter or order: keep showing the current list (marked busy) until the new one arrives,
// rather than flashing a wrong "empty" state.
for (const button of filterButtons) {
  button.addEventListener('click', () => {
    if (state.status === button.dataset.status) return;
    state.status = button.dataset.status;
    state.editing = null;
    state.confirming = null;
    syncControls();
    syncUrl();
    load();
  });
}

sortSelect.addEventListener('change', () => {
  state.sort = SORTS.includes(sortSelect.value) ? sortSelect.value : 'created';
  syncUrl();
  load();
});

async function main() {
  syncControls();
  const session = await startShell();
  if (!session) {
    // Either on the way to sign-in, or the server could not be asked (the alert says why).
    if ($('page-error').textContent) loading.textContent = 'Tasks could not be loaded.';
    return;
  }
  try {
    state.userId = await currentUserId();
  } catch (err) {
    if (err instanceof SignedOut) return;
    showPageError(err);
    loading.textContent = 'Tasks could not be loaded.';
    return;
  }
  await load();
}

main();

// Keep the add form's errors in step with typing.
newTitle.addEventListener('input', () => {
  if (newTitle.getAttribute('aria-invalid')) setFieldError(newTitle, '');
});
