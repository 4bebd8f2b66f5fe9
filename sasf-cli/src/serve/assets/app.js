// The recording page of `sasf serve`: the player, the waveform and its markers, the
// speech lanes, the events, the verification status, the participants, the
// annotation history and the annotate panel. Everything it shows comes from the
// server's JSON; strings from the file are set as text, never as markup.
'use strict';
(() => {
  const cfg = JSON.parse(document.getElementById('cfg').textContent);
  const csrf = document.querySelector('meta[name=csrf]').content;
  const root = document.getElementById('recording');
  const q = encodeURIComponent(cfg.path);
  // What the browser test reads: when the page became interactive, and errors.
  const sasf = (window.sasf = { ready: false, readyAt: null, waveformAt: null, errors: [] });

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      // Through the CSSOM: the page's CSP allows no style attributes.
      else if (k === 'style') Object.assign(e.style, v);
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid.nodeType ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  // replaceChildren, leaving out absent parts.
  function put(box, ...kids) {
    box.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
  }

  function clock(ms) {
    const t = Math.max(0, Math.floor(ms));
    const s = Math.floor(t / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor(s / 60) % 60;
    const mm = h ? `${h}:${String(m).padStart(2, '0')}` : String(m);
    return `${mm}:${String(s % 60).padStart(2, '0')}.${Math.floor((t % 1000) / 100)}`;
  }

  function percent(bp) {
    return `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, '0')}%`;
  }

  // ---------------------------------------------------------------- scoring
  // The same integer arithmetic as sasf-core's Form::score (docs: sasf annotate).
  function score(form, answers) {
    let earned = 0n;
    let possible = 0n;
    const criticalFailed = [];
    for (const qn of form.questions) {
      const a = answers[qn.id];
      if (!a || a.na) continue;
      let n;
      let d;
      if (qn.type === 'yes_no' && typeof a.value === 'boolean') [n, d] = [a.value ? 1n : 0n, 1n];
      else if (qn.type === 'scale' && Number.isInteger(a.value))
        [n, d] = [BigInt(a.value - qn.min), BigInt(qn.max - qn.min)];
      else if (qn.type === 'choice' && typeof a.value === 'string') {
        const c = qn.choices.find((x) => x.value === a.value);
        [n, d] = [BigInt(c ? c.points : 0), 100n];
      } else continue;
      if (qn.critical && n === 0n) criticalFailed.push(qn.id);
      const w = BigInt(qn.weight ?? 1);
      if (w > 0n) {
        possible += 1000n * w;
        earned += (2000n * w * n + d) / (2n * d);
      }
    }
    const bp = possible === 0n ? 10000 : Number((20000n * earned + possible) / (2n * possible));
    const pass = criticalFailed.length === 0 && 100n * earned >= BigInt(form.pass_percent) * possible;
    return { percent_bp: bp, pass, critical_failed: criticalFailed };
  }

  // ---------------------------------------------------------------- saving
  async function save(body) {
    const r = await fetch(`/api/annotate?path=${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(text);
    return JSON.parse(text);
  }

  function notice(box, text, bad) {
    box.replaceChildren(el('p', { class: bad ? 'error' : 'ok', text }));
  }

  // ---------------------------------------------------------------- the page
  function render(rec) {
    const dur = rec.duration_ms || 0;
    const can = rec.can || {};
    const st = rec.status || {};
    const people = new Map((rec.participants || []).map((p) => [p.id, p]));
    const parts = [];

    parts.push(el('h1', { id: 'title', text: rec.id || rec.path }));
    parts.push(
      el(
        'p',
        { class: 'sub' },
        [
          rec.started_at ? `started ${rec.started_at}` : 'start not stated',
          `${clock(dur)} long`,
          rec.rate ? `${rec.rate} Hz` : null,
          rec.channels ? `${rec.channels} channel${rec.channels > 1 ? 's' : ''}` : null,
          rec.encoding,
          rec.path,
        ]
          .filter(Boolean)
          .join(' · '),
      ),
    );

    // Verification status.
    const sigs = (st.signatures || []).map((s) =>
      el('li', {
        class: s.valid && s.trusted ? 'ok' : s.valid ? '' : 'error',
        text: `signed by ${s.signer} (${s.valid ? 'valid' : 'INVALID'}${s.trusted ? ', trusted' : ''})${s.signed_at ? ' at ' + s.signed_at : ''}`,
      }),
    );
    parts.push(
      el(
        'section',
        { id: 'status', class: `status v-${st.verdict}` },
        el('h2', {}, 'Verification'),
        el('p', {}, el('span', { class: `verdict v-${st.verdict}`, id: 'verdict', text: st.verdict }), ' ', st.detail || ''),
        st.integrity ? el('p', { text: `integrity: ${st.integrity}${st.encrypted ? ' (encrypted)' : ''}` }) : null,
        st.authenticated ? el('p', { class: 'error', id: 'authenticated', text: st.authenticated }) : null,
        st.file_digest ? el('p', { class: 'mono', text: `file digest ${st.file_digest}` }) : null,
        sigs.length ? el('ul', { class: 'sigs' }, sigs) : el('p', { text: 'no signatures' }),
      ),
    );

    // Player, waveform, markers, lanes.
    let audio = null;
    if (can.play && st.playable) {
      audio = el('audio', { id: 'player', controls: true, preload: 'auto', src: `/api/audio?path=${q}` });
      const timeline = el('div', { id: 'timeline', title: 'click to seek' });
      const canvas = el('canvas', { id: 'wave', height: 96 });
      const markers = el('div', { id: 'markers' });
      const playhead = el('div', { id: 'playhead' });
      timeline.append(canvas, markers, playhead);
      const seek = (ms) => {
        audio.currentTime = ms / 1000;
      };
      timeline.addEventListener('click', (ev) => {
        if (ev.target.closest('.marker')) return;
        const r = timeline.getBoundingClientRect();
        seek(((ev.clientX - r.left) / r.width) * dur);
      });
      for (const e of rec.events || []) {
        const left = dur ? (e.at_ms / dur) * 100 : 0;
        if (e.length_ms) {
          markers.append(
            el('div', {
              class: `span span-${e.type}`,
              style: { left: `${left}%`, width: `${Math.max(0.2, (e.length_ms / dur) * 100)}%` },
              title: `${e.label} (${clock(e.length_ms)})`,
            }),
          );
        }
        markers.append(
          el('button', {
            class: `marker m-${e.type}${e.redacted ? ' redacted' : ''}`,
            style: { left: `${left}%` },
            title: `${clock(e.at_ms)} ${e.label}`,
            'data-ms': e.at_ms,
            'aria-label': `${e.label} at ${clock(e.at_ms)}`,
            onclick: (ev) => {
              ev.stopPropagation();
              seek(e.at_ms);
            },
          }),
        );
      }
      const lanes = el('div', { id: 'lanes' });
      parts.push(el('section', { id: 'player-box' }, audio, timeline, lanes, el('p', { class: 'time', id: 'time', text: `0:00.0 / ${clock(dur)}` })));
      const tick = () => {
        const ms = audio.currentTime * 1000;
        playhead.style.left = `${dur ? (ms / dur) * 100 : 0}%`;
        document.getElementById('time').textContent = `${clock(ms)} / ${clock(dur)}`;
      };
      audio.addEventListener('timeupdate', tick);
      audio.addEventListener('seeked', tick);
      audio.addEventListener('error', () => sasf.errors.push(`audio error ${audio.error && audio.error.code}`));
      loadWave(canvas, lanes, dur);
    } else if (!can.play) {
      parts.push(el('p', { class: 'note', id: 'no-play', text: `A ${cfg.role} cannot play audio.` }));
    } else {
      parts.push(el('p', { class: 'error', id: 'no-play', text: 'This recording cannot be played: nothing unauthenticated is ever played.' }));
    }

    // Events.
    const rows = (rec.events || []).map((e) =>
      el(
        'tr',
        { class: e.redacted ? 'redacted' : '' },
        el('td', {}, audio ? el('button', { class: 'seek', 'data-ms': e.at_ms, onclick: () => (audio.currentTime = e.at_ms / 1000), text: clock(e.at_ms) }) : clock(e.at_ms)),
        el('td', { text: e.type }),
        el('td', { text: e.label }),
        el('td', { text: e.length_ms ? clock(e.length_ms) : '' }),
      ),
    );
    parts.push(
      el(
        'section',
        { id: 'events' },
        el('h2', {}, `Events (${rows.length})`),
        rows.length
          ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'At'), el('th', {}, 'Type'), el('th', {}, 'Event'), el('th', {}, 'Lasts'))), el('tbody', {}, rows))
          : el('p', { text: 'no events' }),
      ),
    );

    // Participants.
    parts.push(
      el(
        'section',
        { id: 'participants' },
        el('h2', {}, 'Participants'),
        el(
          'table',
          {},
          el('thead', {}, el('tr', {}, el('th', {}, 'Id'), el('th', {}, 'Name'), el('th', {}, 'Role'), el('th', {}, 'Address'), el('th', {}, 'Channels'))),
          el(
            'tbody',
            {},
            [...people.values()].map((p) =>
              el('tr', {}, el('td', { text: p.id }), el('td', { text: p.name || '' }), el('td', { text: p.role }), el('td', { text: p.address || '' }), el('td', { text: (p.channels || []).map((c) => c + 1).join(', ') })),
            ),
          ),
        ),
      ),
    );

    const history = el('section', { id: 'history' });
    const annotate = el('section', { id: 'annotate' });
    parts.push(history);
    if (can.annotate) parts.push(annotate);
    put(root, parts);
    const show = (h) => {
      renderHistory(history, h);
      if (can.annotate) renderAnnotate(annotate, h, rec.forms || [], show);
    };
    if (rec.history) show(rec.history);
    else history.append(el('h2', {}, 'Annotation history'), el('p', { text: 'not available: the recording did not verify' }));

    const ready = () => {
      if (sasf.ready) return;
      sasf.ready = true;
      sasf.readyAt = performance.now();
      document.body.dataset.ready = '1';
    };
    if (audio) {
      if (audio.readyState >= 1) ready();
      else audio.addEventListener('loadedmetadata', ready, { once: true });
    } else ready();
  }

  async function loadWave(canvas, lanes, dur) {
    const r = await fetch(`/api/peaks?path=${q}`);
    if (!r.ok) {
      sasf.errors.push(`peaks: ${r.status}`);
      return;
    }
    const w = await r.json();
    const draw = () => {
      const width = canvas.clientWidth || 800;
      canvas.width = width * (window.devicePixelRatio || 1);
      const g = canvas.getContext('2d');
      const H = canvas.height;
      g.clearRect(0, 0, canvas.width, H);
      const n = w.peaks.length;
      const rowH = H / n;
      const colors = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1'];
      w.peaks.forEach((ch, c) => {
        g.fillStyle = colors[c % colors.length];
        const per = ch.length / canvas.width;
        for (let x = 0; x < canvas.width; x++) {
          let m = 0;
          const a = Math.floor(x * per);
          const b = Math.max(a + 1, Math.floor((x + 1) * per));
          for (let i = a; i < b && i < ch.length; i++) if (ch[i] > m) m = ch[i];
          const h = (m / 255) * (rowH - 2);
          g.fillRect(x, c * rowH + (rowH - h) / 2, 1, Math.max(1, h));
        }
      });
    };
    draw();
    window.addEventListener('resize', draw);
    lanes.replaceChildren(
      ...w.lanes.map((l) =>
        el(
          'div',
          { class: 'lane', 'data-channel': l.channel },
          el('span', { class: 'lane-name', text: l.name }),
          el(
            'div',
            { class: 'lane-bar' },
            l.speech.map(([a, b]) =>
              el('div', { class: 'speech', style: { left: `${(a / dur) * 100}%`, width: `${Math.max(0.1, ((b - a) / dur) * 100)}%` }, title: `${clock(a)}–${clock(b)}` }),
            ),
          ),
        ),
      ),
    );
    sasf.waveformAt = performance.now();
  }

  function renderHistory(box, h) {
    const items = (h.segments || []).map((s) =>
      el(
        'li',
        { class: 'entry', 'data-segment': s.number },
        el('div', { class: 'who', text: `segment ${s.number} · ${s.at} · ${s.by}${s.authenticated ? '' : ' · NOT authenticated'}${s.signer ? ' · signed ' + s.signer.slice(0, 16) : ''}` }),
        s.error ? el('div', { class: 'error', text: s.error }) : el('ul', { class: 'ops' }, (s.ops || []).map((o) => el('li', { text: o }))),
        s.note ? el('div', { class: 'note', text: `note: ${s.note}` }) : null,
      ),
    );
    put(
      box,
      el('h2', {}, `Annotation history (${items.length})`),
      items.length ? el('ol', { id: 'history-list' }, items) : el('p', { text: 'no annotations yet' }),
      h.incomplete_segment_at != null ? el('p', { class: 'error', text: `a torn append at byte ${h.incomplete_segment_at}` }) : null,
    );
  }

  function renderAnnotate(box, h, forms, show) {
    const state = h.state || {};
    const msg = el('div', { class: 'msg', id: 'annotate-msg' });
    const run = async (body, what) => {
      try {
        const r = await save(body);
        show(r.history);
        notice(document.getElementById('annotate-msg'), `${what}: saved as segment ${r.segment}`);
      } catch (e) {
        notice(document.getElementById('annotate-msg'), `${what}: ${e.message}`, true);
      }
    };
    // Tags.
    const tagInput = el('input', { id: 'tag-input', placeholder: 'new tag, e.g. escalated' });
    const tags = el(
      'div',
      { class: 'chips', id: 'tags' },
      (state.tags || []).map((t) => el('span', { class: 'chip', 'data-tag': t }, t, el('button', { class: 'x', title: `remove ${t}`, onclick: () => run({ remove_tags: [t] }, `remove tag ${t}`), text: '×' }))),
    );
    const addTag = () => {
      const t = tagInput.value.trim();
      if (t) run({ add_tags: [t] }, `tag ${t}`);
    };
    tagInput.addEventListener('keydown', (e) => e.key === 'Enter' && addTag());
    // Attributes.
    const keyIn = el('input', { id: 'attr-key', placeholder: 'key' });
    const valIn = el('input', { id: 'attr-value', placeholder: 'value' });
    const attrs = el(
      'div',
      { class: 'chips', id: 'attrs' },
      Object.entries(state.attributes || {}).map(([k, v]) => el('span', { class: 'chip', 'data-attr': k }, `${k}=${v}`, el('button', { class: 'x', title: `remove ${k}`, onclick: () => run({ remove_attrs: [k] }, `remove ${k}`), text: '×' }))),
    );
    // Questionnaires.
    const qbox = el('div', { id: 'questionnaire' });
    const select = el('select', { id: 'form-select' }, el('option', { value: '', text: forms.length ? 'choose a form' : 'no forms on this server (sasf serve --form FILE)' }), forms.map((f, i) => el('option', { value: i, text: `${f.title || f.id} (v${f.version})` })));
    select.addEventListener('change', () => renderForm(qbox, forms[select.value], run));
    const done = Object.values(state.questionnaires || {}).map((x) =>
      el('li', { text: `${x.form.title || x.form.id} v${x.form.version}: ${percent(x.result.percent_bp)} ${x.result.pass ? 'pass' : 'fail'} (segment ${x.segment}, by ${x.by})` }),
    );
    put(
      box,
      el('h2', {}, 'Annotate'),
      msg,
      el('h3', {}, 'Tags'),
      tags,
      el('div', { class: 'row' }, tagInput, el('button', { id: 'tag-add', onclick: addTag, text: 'Add tag' })),
      el('h3', {}, 'Attributes'),
      attrs,
      el('div', { class: 'row' }, keyIn, valIn, el('button', { id: 'attr-add', onclick: () => keyIn.value.trim() && run({ set_attrs: [[keyIn.value.trim(), valIn.value]] }, `attribute ${keyIn.value.trim()}`), text: 'Set attribute' })),
      el('h3', {}, 'Quality questionnaire'),
      done.length ? el('ul', { id: 'scores' }, done) : null,
      select,
      qbox,
    );
  }

  function renderForm(box, form, run) {
    if (!form) return box.replaceChildren();
    const answers = {};
    const scoreOut = el('p', { id: 'score', class: 'score' });
    const update = () => {
      const s = score(form, answers);
      scoreOut.textContent = `Score: ${percent(s.percent_bp)} · ${s.pass ? 'pass' : 'fail'}${s.critical_failed.length ? ' (critical failed: ' + s.critical_failed.join(', ') + ')' : ''}`;
      scoreOut.dataset.bp = s.percent_bp;
      scoreOut.dataset.pass = s.pass;
    };
    const rows = form.questions.map((qn) => {
      const id = `q-${qn.id}`;
      const set = (v) => {
        if (v === undefined) delete answers[qn.id];
        else answers[qn.id] = v;
        update();
      };
      let input;
      if (qn.type === 'yes_no') {
        input = el('select', { id, 'data-q': qn.id }, el('option', { value: '', text: '—' }), el('option', { value: 'yes', text: 'yes' }), el('option', { value: 'no', text: 'no' }));
        input.addEventListener('change', () => set(input.value ? { value: input.value === 'yes' } : undefined));
      } else if (qn.type === 'scale') {
        input = el('select', { id, 'data-q': qn.id }, el('option', { value: '', text: '—' }));
        for (let v = qn.min; v <= qn.max; v++) input.append(el('option', { value: v, text: v }));
        input.addEventListener('change', () => set(input.value ? { value: Number(input.value) } : undefined));
      } else if (qn.type === 'choice') {
        input = el('select', { id, 'data-q': qn.id }, el('option', { value: '', text: '—' }), qn.choices.map((c) => el('option', { value: c.value, text: c.value.replace(/_/g, ' ') })));
        input.addEventListener('change', () => set(input.value ? { value: input.value } : undefined));
      } else {
        input = el('textarea', { id, 'data-q': qn.id, rows: 2 });
        input.addEventListener('input', () => set(input.value ? { value: input.value } : undefined));
      }
      let na = null;
      if (qn.allow_na) {
        na = el('input', { type: 'checkbox', id: `${id}-na` });
        na.addEventListener('change', () => {
          input.disabled = na.checked;
          set(na.checked ? { na: true } : undefined);
        });
      }
      const flags = [qn.critical ? 'critical' : null, qn.required === false ? 'optional' : null, qn.weight !== undefined ? `weight ${qn.weight}` : null].filter(Boolean).join(', ');
      return el('div', { class: 'question' }, el('label', { for: id }, qn.text, flags ? el('small', { text: ` (${flags})` }) : null), input, na ? el('label', { class: 'na' }, na, ' not applicable') : null);
    });
    update();
    const saveBtn = el('button', {
      id: 'q-save',
      text: 'Save questionnaire',
      onclick: () => run({ questionnaire: { form: form.id, version: form.version, answers } }, `questionnaire ${form.id}`),
    });
    box.replaceChildren(el('h4', { text: form.title || form.id }), ...rows, scoreOut, saveBtn);
  }

  if (cfg.refused) {
    // The server refused the page itself (and logged it).
    sasf.refused = cfg.refused.status;
    root.replaceChildren(el('h1', { text: cfg.path }), el('p', { class: 'error', id: 'refused', text: cfg.refused.text }));
    return;
  }
  fetch(`/api/recording?path=${q}`)
    .then(async (r) => {
      if (!r.ok) {
        const text = await r.text();
        sasf.refused = r.status;
        root.replaceChildren(el('h1', { text: cfg.path }), el('p', { class: 'error', id: 'refused', text }));
        return;
      }
      render(await r.json());
    })
    .catch((e) => {
      sasf.errors.push(String(e));
      root.append(el('p', { class: 'error', text: String(e) }));
    });
})();
