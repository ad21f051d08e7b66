/*
 * The kiosk page (/): upcoming events -> sign-up form -> the ticket's QR.
 * For a portrait touch screen and for phones. After 3 minutes without a
 * touch on the form or the ticket it goes back to the list and clears
 * everything the guest typed or was shown; the last 30 s count down on screen
 * with a large "我还需要时间" button, and the clock stops while the consent
 * text is open.
 */
'use strict';

(function () {
  const { $, h } = K;
  const IDLE_MS = 180000; /* back to the start after this long without a touch */
  const IDLE_WARN_S = 30; /* the last seconds, counted down on screen */
  const REFRESH_MS = 30000; /* places left, refreshed while the list is shown */

  let events = [];
  let current = null;
  let busy = false;
  let idleTimer = null;
  let warnTimer = null;
  let countdown = null;
  let refreshTimer = null;
  let printer = 'none'; /* [kiosk] printer: none, 58mm, 80mm */
  let sms = false; /* the ticket screen offers to send the ticket link by SMS */
  let ticketCode = null; /* the ticket on screen, for "发送到手机" */
  /* An invitation link (/?event=N&c=CODE, CONTRACT.md "Campaigns") opens event N's
     form once and sends the campaign's code with that sign-up; back at the start
     the kiosk forgets it. */
  const invitation = new URLSearchParams(location.search);
  let invitedEvent = parseInt(invitation.get('event') || '', 10) || null;
  let campaign = invitedEvent && /^[2-9A-HJKMNP-Z]{6}$/.test(invitation.get('c') || '')
    ? { event: invitedEvent, code: invitation.get('c') } : null;

  const form = $('#signup-form');
  const fields = {
    name: { input: $('#f-name'), error: $('#e-name') },
    phone: { input: $('#f-phone'), error: $('#e-phone') },
    referrer_phone: { input: $('#f-ref'), error: $('#e-ref') },
    consent: { input: $('#f-consent'), error: $('#e-consent') },
  };

  /* --- screens --- */

  function showScreen(id) {
    for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== id;
    document.body.dataset.screen = id;
    window.scrollTo(0, 0);
    touched();
  }

  function placesLeft(ev) {
    return Math.max(0, (ev.capacity || 0) - (ev.signed_up || 0));
  }

  function isFull(ev) {
    return ev.status === 'full' || placesLeft(ev) === 0;
  }

  function eventSummary(ev) {
    const started = Date.parse(ev.starts_at) <= Date.now();
    const kind = K.kindLabel(ev.kind);
    const tag = (ev.title.includes(kind) ? '' : kind) + (started ? (ev.title.includes(kind) ? '' : ' · ') + '进行中' : '');
    return [
      tag ? h('p', { class: 'kind-tag', text: tag }) : null,
      h('p', { class: 'event-title', text: ev.title }),
      h('p', { class: 'event-when' }, h('span', { class: 'label', text: '时间' }), K.whenLabel(ev.starts_at, ev.ends_at)),
      h('p', { class: 'event-venue' }, h('span', { class: 'label', text: '地点' }), ev.venue),
      ev.description ? h('p', { class: 'event-desc', text: ev.description }) : null,
    ].filter(Boolean);
  }

  /* --- 1. events --- */

  function setStatus(text) {
    $('#events-status').textContent = text || '';
  }

  async function loadEvents() {
    clearTimeout(refreshTimer);
    if (!events.length) setStatus('正在加载活动……');
    let r;
    try {
      r = await K.api('GET', '/api/v1/events');
    } catch (e) {
      setStatus('暂时无法连接报名系统，请稍后再试，或请网点工作人员协助。');
      refreshTimer = setTimeout(loadEvents, 5000);
      return;
    }
    if (!r.ok || !r.data || !Array.isArray(r.data.events)) {
      setStatus(r.status === 429 ? '请稍等片刻再试。' : '活动列表暂时无法显示，请稍后再试，或请网点工作人员协助。');
      refreshTimer = setTimeout(loadEvents, 5000);
      return;
    }
    // another branch's event (ev.branch) is signed up for at that branch, not here
    events = r.data.events.filter((ev) => ev.status !== 'cancelled' && !ev.branch);
    renderEvents();
    if (invitedEvent && document.body.dataset.screen === 'screen-events') openForm(invitedEvent);
    invitedEvent = null;
    refreshTimer = setTimeout(loadEvents, REFRESH_MS);
  }

  function renderEvents() {
    const list = $('#event-list');
    list.replaceChildren();
    if (!events.length) {
      setStatus('近期暂无可报名的活动，请咨询网点工作人员。');
      return;
    }
    setStatus('');
    for (const ev of events) {
      const full = isFull(ev);
      const places = full
        ? h('p', { class: 'event-places full', text: '名额已满 · 可报名候补' })
        : h('p', { class: 'event-places', text: '剩余 ' + placesLeft(ev) + ' 个名额' });
      list.append(
        h('li', null,
          h('button', { type: 'button', class: 'event-card' + (full ? ' is-full' : ''), 'data-id': ev.id,
            onclick: () => openForm(ev.id) },
            eventSummary(ev), places,
            h('span', { class: 'event-go', 'aria-hidden': 'true', text: full ? '报名候补 ›' : '我要报名 ›' }))));
    }
  }

  /* --- 2. form --- */

  function clearErrors() {
    for (const f of Object.values(fields)) {
      f.error.textContent = '';
      f.input.removeAttribute('aria-invalid');
    }
    $('#form-error').textContent = '';
  }

  function fieldError(name, text) {
    const f = fields[name];
    if (!f) return false;
    f.error.textContent = text;
    f.input.setAttribute('aria-invalid', 'true');
    return true;
  }

  function focusFirstError() {
    for (const f of Object.values(fields)) {
      if (f.input.getAttribute('aria-invalid') === 'true') {
        f.input.focus();
        return;
      }
    }
  }

  function openForm(id, fromHistory) {
    const ev = events.find((e) => e.id === id);
    if (!ev) return;
    current = ev;
    form.reset();
    clearErrors();
    $('#form-event').replaceChildren(...eventSummary(ev));
    const full = isFull(ev);
    $('#full-notice').hidden = !full;
    $('#submit').textContent = full ? '报名候补' : '报名';
    showScreen('screen-form');
    if (!fromHistory) history.pushState({ screen: 'form', id }, '');
    fields.name.input.focus();
  }

  const digits = (s) => s.replace(/[\s-]/g, '');

  function validate(v) {
    let ok = true;
    if (!v.name.trim()) ok = !fieldError('name', '请填写姓名') && ok;
    else if (K.nameLength(v.name) > 32) ok = !fieldError('name', K.fieldMessage('name', 'is longer than 32 characters')) && ok;
    if (!v.phone) ok = !fieldError('phone', '请填写手机号') && ok;
    else if (!K.isMobile(v.phone)) ok = !fieldError('phone', K.fieldMessage('phone', 'must be an 11-digit mainland mobile number')) && ok;
    if (v.referrer_phone && !K.isMobile(v.referrer_phone)) {
      ok = !fieldError('referrer_phone', K.fieldMessage('referrer_phone', 'must be an 11-digit mainland mobile number')) && ok;
    }
    if (!v.consent) ok = !fieldError('consent', K.fieldMessage('consent', 'consent is required to sign up')) && ok;
    return ok;
  }

  async function submit(e) {
    e.preventDefault();
    if (busy || !current) return;
    clearErrors();
    const v = {
      name: fields.name.input.value,
      phone: digits(fields.phone.input.value),
      referrer_phone: digits(fields.referrer_phone.input.value),
      consent: fields.consent.input.checked,
    };
    if (!validate(v)) {
      focusFirstError();
      return;
    }
    const body = { name: v.name.trim(), phone: v.phone, consent: true };
    if (v.referrer_phone) body.referrer_phone = v.referrer_phone;
    if (campaign && campaign.event === current.id) body.campaign = campaign.code;
    const button = $('#submit');
    const label = button.textContent;
    busy = true;
    button.disabled = true;
    button.textContent = '正在提交……';
    let r = null;
    try {
      r = await K.api('POST', '/api/v1/events/' + encodeURIComponent(current.id) + '/signups', body, { timeout: 15000 });
    } catch (err) {
      $('#form-error').textContent = '暂时无法连接报名系统，您填写的内容还在，请稍后再点“' + label + '”，或请网点工作人员协助。';
    } finally {
      busy = false;
      button.disabled = false;
      button.textContent = label;
    }
    if (!r) return;
    if ((r.status === 200 || r.status === 201) && r.data && r.data.ticket) {
      showTicket(current, r.data, r.status === 200);
      return;
    }
    const err = r.error || {};
    if (r.status === 422 && err.fields) {
      let any = false;
      for (const [k, m] of Object.entries(err.fields)) any = fieldError(k, K.fieldMessage(k, m)) || any;
      if (!any) $('#form-error').textContent = '填写的内容有误，请检查后再试。';
      focusFirstError();
    } else if (err.code === 'already_signed_up') {
      $('#form-error').textContent = '该手机号已用其他姓名报名本场活动。如需帮助，请联系网点工作人员。';
    } else if (err.code === 'signup_limit') {
      $('#form-error').textContent = '该手机号报名的活动已达上限，请先取消其他活动的报名，或请网点工作人员协助。';
    } else if (err.code === 'event_over') {
      $('#form-error').textContent = '本场活动已结束，无法报名。请返回选择其他活动。';
    } else if (err.code === 'event_cancelled') {
      $('#form-error').textContent = '本场活动已取消，无法报名。请返回选择其他活动。';
    } else if (r.status === 404) {
      $('#form-error').textContent = '找不到这场活动，可能已取消。请返回选择其他活动。';
    } else if (r.status === 429) {
      $('#form-error').textContent = '操作太频繁了，请稍等一分钟再试。';
    } else {
      /* the code goes to the console for staff, never on the resident's screen */
      console.warn('sign-up refused', r.status, err.code || '');
      $('#form-error').textContent = '系统暂时出错，请稍后再试，或请网点工作人员协助。';
    }
  }

  /* --- 3. ticket --- */

  /* "您是第 N 位候补": the guest's place on the waitlist, when there is one */
  function showWaitlistPlace(position) {
    const el = $('#ticket-place');
    const n = Number(position);
    el.hidden = !(Number.isInteger(n) && n > 0);
    el.textContent = el.hidden ? '' : '您是第 ' + n + ' 位候补';
  }

  function showTicket(ev, data, existed) {
    const waitlisted = data.status === 'waitlisted';
    form.reset(); /* the name and phone leave the screen at once */
    clearErrors();
    $('#ticket-title').textContent = existed
      ? '您已报名过本场活动'
      : waitlisted ? '已加入候补名单' : '报名成功';
    $('#ticket-lead').textContent = existed
      ? (waitlisted ? '您已在候补名单中，这是您的二维码，无需重复报名。' : '这是您之前的入场二维码，无需重复报名。')
      : waitlisted
        ? '本场目前已满，您已排进候补名单。有空位时工作人员会通知您。'
        : '请用手机拍下入场二维码，活动当天凭它签到；没有手机也没关系，凭手机号即可签到。';
    document.body.classList.toggle('waitlisted', waitlisted);
    showWaitlistPlace(waitlisted ? data.waitlist_position : 0);
    const img = $('#ticket-qr');
    $('#ticket-qr-error').hidden = true;
    img.hidden = false;
    img.src = data.ticket.qr_svg;
    $('#ticket-short').textContent = data.ticket.short_code || '';
    /* the paper slip, for whoever has no phone to photograph the QR */
    $('#slip-qr').src = data.ticket.qr_svg;
    $('#slip-short').textContent = data.ticket.short_code || '';
    $('#slip-title').textContent = ev.title;
    $('#slip-when').textContent = K.whenLabel(ev.starts_at, ev.ends_at);
    $('#slip-venue').textContent = ev.venue;
    $('#ticket-print').hidden = printer === 'none';
    ticketCode = data.ticket.code;
    smsReset();
    $('#ticket-event').replaceChildren(...eventSummary(ev));
    const steps = waitlisted
      ? [
        '有手机的话，请拍下这个二维码。',
        '有空位递补时，工作人员会通知您；收到通知后，活动当天凭此二维码或手机号签到。',
        '没有二维码也没关系，告诉工作人员您的手机号即可。',
      ]
      : [
        '有手机的话，请拍下这个二维码。',
        '活动当天请到“' + ev.venue + '”，把二维码给工作人员扫一下即可签到。',
        '没有二维码也没关系，告诉工作人员您的手机号即可签到。',
        '如不能参加，请告诉网点工作人员，把名额让给其他人。',
      ];
    $('#ticket-next').replaceChildren(...steps.map((s) => h('li', { text: s })));
    showScreen('screen-ticket');
    history.replaceState({ screen: 'ticket' }, '');
    $('#ticket-title').focus();
    /* the list shows the new number of places when the guest comes back */
    loadEvents();
  }

  /* --- 4. the ticket link by SMS --- */

  /* What a resident reads for each refusal; never the code itself. */
  const SMS_ERRORS = {
    ticket_sms_limit: '短信已发送过两次，不能再发送了。请查看手机短信，或拍下二维码、记下签到码。',
    ticket_sms_closed: '报名已超过15分钟，不能再发送短信。请拍下二维码、记下签到码，或请网点工作人员协助。',
    ticket_cancelled: '这张入场券已取消，不能发送。如有疑问请咨询网点工作人员。',
    ticket_replaced: '这张入场券已更换，不能发送。如有疑问请咨询网点工作人员。',
    event_cancelled: '本场活动已取消，不能发送。如有疑问请咨询网点工作人员。',
    ticket_not_found: '没有找到这张入场券，请咨询网点工作人员。',
    sms_off: '本网点暂不能发送短信，请拍下二维码或记下签到码。',
    rate_limited: '操作太频繁，请稍等一分钟再试。',
  };
  /* refusals after which pressing again cannot help */
  const SMS_FINAL = ['ticket_sms_limit', 'ticket_sms_closed', 'ticket_cancelled', 'ticket_replaced',
    'event_cancelled', 'ticket_not_found', 'sms_off'];

  function smsResult(text, error) {
    const el = $('#ticket-sms-result');
    el.textContent = text;
    el.classList.toggle('error', !!error);
    el.hidden = !text;
  }

  function smsReset() {
    $('#ticket-sms').hidden = !sms || !ticketCode;
    const btn = $('#ticket-sms-send');
    btn.disabled = false;
    btn.hidden = false;
    btn.textContent = '发送到手机';
    smsResult('', false);
  }

  async function sendSms() {
    const btn = $('#ticket-sms-send');
    const code = ticketCode;
    if (!code || btn.disabled) return;
    btn.disabled = true;
    btn.textContent = '正在发送…';
    smsResult('', false);
    let r = null;
    try {
      r = await K.api('POST', '/api/v1/tickets/' + encodeURIComponent(code) + '/sms', {});
    } catch (e) {
      r = null;
    }
    if (code !== ticketCode) return; /* the screen was reset meanwhile */
    btn.disabled = false;
    btn.textContent = '再发送一次';
    if (r && r.ok && r.data) {
      smsResult('已发送到 ' + r.data.phone + '，请查收短信，点开链接即可看到入场二维码。', false);
      if (r.data.sends_left === 0) btn.hidden = true;
      return;
    }
    const errCode = r && r.error ? r.error.code : '';
    if (r) console.warn('ticket sms refused', r.status, errCode);
    smsResult(SMS_ERRORS[errCode] || '短信暂时无法发送，请稍后再试，或请网点工作人员协助。', true);
    if (SMS_FINAL.includes(errCode)) btn.hidden = true;
    else btn.textContent = '发送到手机';
  }

  /* --- back to the start; nothing personal stays --- */

  function reset() {
    form.reset();
    clearErrors();
    current = null;
    ticketCode = null;
    campaign = null;
    smsReset();
    const img = $('#ticket-qr');
    img.removeAttribute('src');
    $('#ticket-short').textContent = '';
    for (const id of ['#slip-short', '#slip-title', '#slip-when', '#slip-venue']) $(id).textContent = '';
    $('#slip-qr').removeAttribute('src');
    $('#ticket-event').replaceChildren();
    $('#form-event').replaceChildren();
    document.body.classList.remove('waitlisted');
    showWaitlistPlace(0);
    const dlg = $('#consent');
    if (dlg.open) dlg.close();
    hideIdleNote();
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    showScreen('screen-events');
    loadEvents();
  }

  function goHome() {
    reset();
    history.replaceState({ screen: 'events' }, '');
  }

  function hideIdleNote() {
    clearInterval(countdown);
    countdown = null;
    $('#idle-note').hidden = true;
    $('#idle-text').textContent = '';
  }

  function idleText(left) {
    const what = document.body.dataset.screen === 'screen-ticket' ? '二维码和签到码将不再显示' : '您填写的内容将被清除';
    return left + ' 秒后将返回首页，' + what + '。如需继续，请点下方按钮。';
  }

  /* The last IDLE_WARN_S seconds: a live countdown above everything else. */
  function warnIdle() {
    let left = IDLE_WARN_S;
    $('#idle-text').textContent = idleText(left);
    $('#idle-note').hidden = false;
    countdown = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        hideIdleNote();
        goHome();
        return;
      }
      $('#idle-text').textContent = idleText(left);
    }, 1000);
  }

  function touched() {
    clearTimeout(idleTimer);
    clearTimeout(warnTimer);
    hideIdleNote();
    if ($('#consent').open) return; /* the clock stops while the consent text is read */
    if (document.body.dataset.screen === 'screen-events') {
      idleTimer = setTimeout(() => window.scrollTo(0, 0), IDLE_MS);
      return;
    }
    warnTimer = setTimeout(warnIdle, IDLE_MS - IDLE_WARN_S * 1000);
  }

  /* --- wiring --- */

  form.addEventListener('submit', submit);
  for (const [name, f] of Object.entries(fields)) {
    f.input.addEventListener(name === 'consent' ? 'change' : 'input', () => {
      if (f.input.getAttribute('aria-invalid')) {
        f.error.textContent = '';
        f.input.removeAttribute('aria-invalid');
      }
    });
  }
  $('#form-back').addEventListener('click', () => history.back());
  $('#ticket-done').addEventListener('click', goHome);
  $('#ticket-print').addEventListener('click', () => window.print());
  $('#ticket-sms-send').addEventListener('click', sendSms);

  /* the printer's paper width picks the slip's layout; sms: "发送到手机" is offered */
  K.api('GET', '/api/v1/kiosk').then((r) => {
    if (!r.ok || !r.data) return;
    sms = r.data.sms === true;
    if (document.body.dataset.screen === 'screen-ticket') smsReset();
    if (!['58mm', '80mm'].includes(r.data.printer)) return;
    printer = r.data.printer;
    document.body.dataset.printer = printer;
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.media = 'print';
    link.href = '/assets/print-' + printer + '.css';
    document.head.append(link);
  }).catch(() => {});
  $('#ticket-qr').addEventListener('error', () => {
    if (!$('#ticket-qr').getAttribute('src')) return;
    $('#ticket-qr').hidden = true;
    $('#ticket-qr-error').hidden = false;
  });
  $('#consent-link').addEventListener('click', () => {
    const dlg = $('#consent');
    dlg.showModal();
    dlg.scrollTop = 0; /* from the start, on a phone too */
    $('#consent-title').focus();
    touched();
  });
  let closedByButton = false;
  function closeConsent(agreed) {
    closedByButton = true;
    const box = fields.consent.input;
    box.checked = agreed;
    box.dispatchEvent(new Event('change'));
    $('#consent').close();
    box.focus();
    touched();
  }
  $('#consent-agree').addEventListener('click', () => closeConsent(true));
  $('#consent-close').addEventListener('click', () => closeConsent(false));
  /* Escape closes the dialog too; the clock restarts once, whichever way it closed
     (the close event comes a task later, and must not restart it a second time) */
  $('#consent').addEventListener('close', () => {
    if (!closedByButton) touched();
    closedByButton = false;
  });
  $('#idle-more').addEventListener('click', touched);
  window.addEventListener('popstate', (e) => {
    const st = e.state || {};
    if (st.screen === 'form' && st.id && document.body.dataset.screen !== 'screen-ticket') openForm(st.id, true);
    else reset();
  });
  for (const type of ['pointerdown', 'keydown', 'input', 'wheel', 'touchstart']) {
    document.addEventListener(type, touched, { passive: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') touched();
  });

  history.replaceState({ screen: 'events' }, '');
  showScreen('screen-events');
  touched();
  loadEvents();
})();
