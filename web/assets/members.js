/*
 * The staff tablet's member panels (/staff): the member lookup (会员查询, by
 * phone or member number) with tier, points and the last ledger lines; the
 * redemption (积分兑换, two taps), the manager's transfer (积分转赠), the
 * upgrade registration (升级登记) offered after a member's check-in and from
 * the lookup, and the manager's approvals queue (待审批). staff.js owns the
 * session and calls KMembers.init() with what these panels need of it.
 * A phone number never travels in a URL: the lookup by phone is a POST.
 */
'use strict';

(function () {
  const { $, h } = K;
  const KMembers = {};
  window.KMembers = KMembers;

  const REASONS = {
    checkin: '签到奖励',
    referral: '推荐奖励',
    new_business: '新增业务',
    reversal: '撤销冲正',
    redemption: '兑换',
    transfer_out: '转出',
    transfer_in: '转入',
    expiry: '过期',
  };
  const MODES = { onsite: '现场办理', appointment: '预约办理' };
  const APPROVALS_MS = 30000;

  /* The Chinese sentence for a refusal of the member and points calls; never a raw code. */
  function refusal(r, what) {
    const e = r.error || {};
    const byCode = {
      member_not_found: e.member === 'to' ? '没有找到接收积分的会员，请核对会员号。'
        : e.member === 'from' ? '转出积分的会员已不存在。' : '没有找到这位会员，请核对手机号或会员号。',
      insufficient_points: what === 'household' ? '家庭积分不足，不能兑换。' : '积分不足，不能' + (what === 'transfer' ? '转赠。' : '兑换。'),
      no_household: '这位会员没有家庭账户，不能用家庭积分。请取消勾选“用家庭积分”。',
      signup_not_found: '找不到这次报名，请从会员查询里重新登记。',
      not_checked_in: '这位客人的签到已撤销（或尚未签到），请先签到，或从会员查询里登记。',
      not_a_member: '这位客人的手机号不是会员，不能登记升级。',
      product_not_found: '没有这个产品，请从列表中选择产品。',
      upgrade_not_found: '这份升级登记已不存在，列表已刷新。',
      already_decided: '这份升级登记已经处理过了，列表已刷新。',
      forbidden: '只有行长/经理可以办理这项操作。',
      rate_limited: '操作太频繁，请稍等片刻再试。',
      busy: '服务器正忙，没有办理，请稍后再试。',
      storage_unavailable: '服务器暂时无法保存，没有办理，请稍后再试。',
      disk_full: '服务器暂时无法保存，没有办理，请联系管理员。',
    };
    if (byCode[e.code]) return byCode[e.code];
    if (r.status === 403) return byCode.forbidden;
    if (r.status === 404) return what === 'upgrade' ? '找不到这位会员或这次报名。' : byCode.member_not_found;
    if (r.status === 409 && what === 'upgrade') return '这位客人现在不能登记升级（可能已登记过，或已是该等级）。';
    if (r.status === 409) return '没有办理：状态已变化，请刷新后再试。';
    if (r.status === 422) return '填写的内容不正确，请检查。';
    return '没有办理成功，请稍后再试或联系管理员。';
  }

  /* "20" (万元) -> 200000 (CNY); NaN when it is not a positive amount. */
  function wan(text) {
    const t = String(text || '').replace(/[\s,，]/g, '');
    if (!/^[0-9]+(\.[0-9]{1,4})?$/.test(t)) return NaN;
    const v = Math.round(parseFloat(t) * 10000);
    return v > 0 ? v : NaN;
  }

  /* 200000 -> "20 万元"; 1234 -> "1,234 元" */
  function money(cny) {
    const n = Number(cny);
    if (!Number.isFinite(n)) return '–';
    return n >= 10000 ? K.num(Math.round(n / 100) / 100) + ' 万元' : K.num(n) + ' 元';
  }

  function points(text) {
    const t = String(text || '').replace(/[\s,，]/g, '');
    if (!/^[0-9]{1,9}$/.test(t)) return NaN;
    const v = parseInt(t, 10);
    return v >= 1 && v <= 100000000 ? v : NaN;
  }

  KMembers.init = function (ctx) {
    const session = () => ctx.session();
    const isManager = () => {
      const s = session();
      return !!s && (s.role === 'manager' || s.role === 'admin');
    };
    let member = null; /* the points answer on screen */
    let upgradeFrom = null; /* {signup_id?, event_title?} when the form comes from a check-in */
    let products = null; /* [{code, name}] or [] when the daemon has no list */
    let approvalsTimer = null;

    async function call(method, path, body) {
      const s = session();
      if (!s) return null;
      const r = await K.api(method, path, body, { token: s.token });
      if (r.status === 401) {
        ctx.expired();
        return null;
      }
      return r;
    }

    /* --- the lookup --- */

    function setStatus(t) {
      $('#member-status').textContent = t || '';
    }

    async function lookup(q) {
      const raw = String(q || '').trim();
      const digits = raw.replace(/[\s-]/g, '');
      let req;
      if (K.isMobile(digits)) req = ['POST', '/api/v1/members/lookup', { phone: digits }];
      else if (/^[A-Za-z0-9_-]{1,32}$/.test(raw) && !/^[0-9]{11}$/.test(digits)) {
        req = ['GET', '/api/v1/members/' + encodeURIComponent(raw) + '/points', undefined];
      } else {
        setStatus(raw ? '请输入11位手机号，或会员号（字母、数字）。' : '请输入会员的手机号或会员号。');
        return false;
      }
      setStatus('正在查询……');
      let r;
      try {
        r = await call(...req);
      } catch (e) {
        setStatus('无法连接服务器，请检查 Wi-Fi 后再试。');
        return false;
      }
      if (!r) return false;
      if (!r.ok || !r.data) {
        clear();
        setStatus(r.status === 422 ? '手机号应为11位（1开头）。' : refusal(r, 'lookup'));
        return false;
      }
      setStatus('');
      show(r.data);
      return true;
    }

    function show(m) {
      const same = member && member.member_no === m.member_no;
      member = m;
      $('#member').hidden = false;
      $('#m-name').textContent = m.name || '';
      $('#m-no').textContent = '会员号 ' + m.member_no;
      $('#m-tier').textContent = m.tier || '';
      $('#m-tier').classList.toggle('trial', /体验期/.test(m.tier || ''));
      $('#m-balance').textContent = K.num(m.balance);
      const hh = m.household_balance !== undefined && m.household_balance !== null;
      $('#m-household-box').hidden = !hh;
      $('#m-household').textContent = hh ? K.num(m.household_balance) : '';
      $('#m-expiring').textContent = K.num(m.expiring_this_year || 0);
      $('#r-household-box').hidden = !hh;
      if (!hh) $('#r-household').checked = false;
      $('#m-transfer-open').hidden = !isManager();
      $('#t-from').textContent = (m.name || '') + '（' + m.member_no + '）';
      const lines = m.ledger || [];
      $('#m-ledger tbody').replaceChildren(...lines.map((l) => h('tr', { class: l.delta < 0 ? 'minus' : 'plus' },
        h('td', { text: K.ymdhm(l.at) }),
        h('td', { text: REASONS[l.reason] || '其他' }),
        h('td', { class: 'num', text: (l.delta > 0 ? '+' : '') + K.num(l.delta) }),
        h('td', { text: l.expires_on || '' }))));
      $('#m-ledger').hidden = !lines.length;
      $('#m-ledger-empty').hidden = lines.length > 0;
      if (!same) {
        closeForms();
        $('#member-done').textContent = '';
        upgradeFrom = null;
      }
    }

    function clear() {
      member = null;
      upgradeFrom = null;
      closeForms();
      $('#member').hidden = true;
      $('#member-done').textContent = '';
      $('#m-ledger tbody').replaceChildren();
      for (const id of ['#m-name', '#m-no', '#m-tier', '#m-balance', '#m-household', '#m-expiring', '#t-from']) $(id).textContent = '';
    }

    async function reload() {
      if (!member) return;
      const no = member.member_no;
      try {
        const r = await call('GET', '/api/v1/members/' + encodeURIComponent(no) + '/points');
        if (r && r.ok && r.data && member && member.member_no === no) show(r.data);
      } catch (e) {
        /* the banner says the daemon is away; the numbers stay as they were */
      }
    }

    $('#member-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = $('#member-q');
      const ok = await lookup(input.value);
      if (ok) {
        input.value = ''; /* a phone number does not stay in the field */
        ctx.focusScan(); /* the next guest's scan goes where it belongs */
      }
    });

    $('#m-close').addEventListener('click', () => {
      clear();
      setStatus('');
      ctx.focusScan();
    });

    /* --- the sub-forms: one open at a time --- */

    function closeForms() {
      for (const f of ['#redeem-form', '#transfer-form', '#upgrade-form']) {
        const form = $(f);
        form.hidden = true;
        form.reset();
        for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
        for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
        const b = form.querySelector('button[type="submit"]');
        if (b && b.disarm) b.disarm();
      }
      $('#u-products').replaceChildren();
    }

    function openForm(sel) {
      const was = !$(sel).hidden;
      closeForms();
      if (was) return null;
      $('#member-done').textContent = '';
      const form = $(sel);
      form.hidden = false;
      form.scrollIntoView({ block: 'nearest' });
      const first = form.querySelector('input:not([type="checkbox"]):not([type="radio"])');
      if (first) first.focus({ preventScroll: true });
      return form;
    }

    for (const b of document.querySelectorAll('#member .sub-cancel')) b.addEventListener('click', closeForms);
    /* a field being corrected loses its error */
    for (const f of ['#redeem-form', '#transfer-form', '#upgrade-form']) {
      $(f).addEventListener('input', (e) => {
        if (e.target.getAttribute('aria-invalid') !== 'true') return;
        e.target.removeAttribute('aria-invalid');
        const err = e.target.getAttribute('aria-describedby');
        if (err && $('#' + err)) $('#' + err).textContent = '';
      });
    }
    /* a changed field takes back the first of the two taps */
    for (const f of ['#redeem-form', '#transfer-form']) {
      $(f).addEventListener('input', () => {
        const b = $(f).querySelector('button[type="submit"]');
        if (b.disarm) b.disarm();
      });
    }

    function fieldError(input, err, text) {
      err.textContent = text;
      input.setAttribute('aria-invalid', 'true');
    }

    /* --- redemption (staff): two taps, since points are money-like --- */

    $('#m-redeem-open').addEventListener('click', () => openForm('#redeem-form'));

    $('#redeem-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (!member) return;
      const form = $('#redeem-form');
      for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      const n = points($('#r-points').value);
      const item = $('#r-item').value.trim();
      const household = !$('#r-household-box').hidden && $('#r-household').checked;
      if (!Number.isFinite(n)) fieldError($('#r-points'), $('#re-points'), '请填写要兑换的积分（1 到 1 亿之间的整数）');
      if (!item) fieldError($('#r-item'), $('#re-item'), '请填写兑换的物品');
      else if (Array.from(item).length > 100) fieldError($('#r-item'), $('#re-item'), '物品名称不能超过100个字');
      const bad = form.querySelector('[aria-invalid]');
      if (bad) {
        bad.focus();
        return;
      }
      const m = member;
      K.armed($('#redeem-submit'), '再点一次：确认' + (household ? '用家庭积分' : '') + '兑换 ' + K.num(n) + ' 积分',
        () => redeem(m, n, item, household));
    });

    async function redeem(m, n, item, household) {
      const err = $('#redeem-error');
      const button = $('#redeem-submit');
      button.disabled = true;
      let r;
      try {
        r = await call('POST', '/api/v1/points/redemptions', { member_no: m.member_no, points: n, item, from_household: household });
      } catch (e) {
        err.textContent = '无法连接服务器，没有兑换。请检查 Wi-Fi 后再试。';
        return;
      } finally {
        button.disabled = false;
      }
      if (!r) return;
      if (r.ok) {
        closeForms();
        if (member && member.member_no === m.member_no && r.data) {
          if (r.data.balance !== undefined) $('#m-balance').textContent = K.num(r.data.balance);
          if (r.data.household_balance !== undefined) $('#m-household').textContent = K.num(r.data.household_balance);
        }
        $('#member-done').textContent = '已兑换 ' + K.num(n) + ' 积分（' + item + '）' + (household ? '，由家庭积分支付' : '') +
          '。余额 ' + K.num(r.data && r.data.balance) + ' 分。';
        reload();
        return;
      }
      const f = (r.error && r.error.fields) || {};
      if (r.status === 422 && (f.points || f.item)) {
        if (f.points) fieldError($('#r-points'), $('#re-points'), '积分应为 1 到 1 亿之间的整数');
        if (f.item) fieldError($('#r-item'), $('#re-item'), '物品名称应为1到100个字，不能含特殊字符');
        return;
      }
      let msg = refusal(r, household ? 'household' : 'redeem');
      if (r.error && r.error.code === 'insufficient_points' && !household) {
        msg = '积分不足：余额 ' + $('#m-balance').textContent + ' 分，不够兑换 ' + K.num(n) + ' 分。';
      }
      err.textContent = msg;
      if (r.error && r.error.code === 'insufficient_points') reload();
    }

    /* --- transfer (managers only: the server refuses staff too) --- */

    $('#m-transfer-open').addEventListener('click', () => {
      if (isManager()) openForm('#transfer-form');
    });

    $('#transfer-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (!member || !isManager()) return;
      const form = $('#transfer-form');
      for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      const to = $('#t-to').value.trim();
      const n = points($('#t-points').value);
      const note = $('#t-note').value.trim();
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(to)) fieldError($('#t-to'), $('#te-to'), to ? '会员号只能包含字母、数字、- 和 _' : '请填写接收积分的会员号');
      else if (to === member.member_no) fieldError($('#t-to'), $('#te-to'), '不能转给同一位会员');
      if (!Number.isFinite(n)) fieldError($('#t-points'), $('#te-points'), '请填写要转赠的积分（1 到 1 亿之间的整数）');
      const bad = form.querySelector('[aria-invalid]');
      if (bad) {
        bad.focus();
        return;
      }
      const m = member;
      K.armed($('#transfer-submit'), '再点一次：确认转赠 ' + K.num(n) + ' 积分给 ' + to, () => transfer(m, to, n, note));
    });

    async function transfer(m, to, n, note) {
      const err = $('#transfer-error');
      const button = $('#transfer-submit');
      button.disabled = true;
      let r;
      try {
        const body = { from: m.member_no, to, points: n };
        if (note) body.note = note;
        r = await call('POST', '/api/v1/points/transfers', body);
      } catch (e) {
        err.textContent = '无法连接服务器，没有转赠。请检查 Wi-Fi 后再试。';
        return;
      } finally {
        button.disabled = false;
      }
      if (!r) return;
      if (r.ok) {
        closeForms();
        const bal = r.data && r.data.from ? r.data.from.balance : undefined;
        if (bal !== undefined) $('#m-balance').textContent = K.num(bal);
        $('#member-done').textContent = '已转赠 ' + K.num(n) + ' 积分给会员 ' + to + '。余额 ' + K.num(bal) + ' 分。';
        reload();
        return;
      }
      const f = (r.error && r.error.fields) || {};
      if (r.status === 422 && (f.to || f.from)) {
        fieldError($('#t-to'), $('#te-to'), '不能转给同一位会员，请核对会员号');
        return;
      }
      if (r.status === 422 && f.points) {
        fieldError($('#t-points'), $('#te-points'), '积分应为 1 到 1 亿之间的整数');
        return;
      }
      if (r.error && r.error.code === 'member_not_found' && r.error.member === 'to') {
        fieldError($('#t-to'), $('#te-to'), '没有找到会员号 ' + to);
        return;
      }
      err.textContent = r.error && r.error.code === 'insufficient_points'
        ? '积分不足：余额 ' + $('#m-balance').textContent + ' 分，不够转赠 ' + K.num(n) + ' 分。'
        : refusal(r, 'transfer');
    }

    /* --- upgrade registration (升级确认单) --- */

    async function loadProducts() {
      if (products) return products;
      try {
        const r = await call('GET', '/api/v1/products');
        products = r && r.ok && r.data && Array.isArray(r.data.products) ? r.data.products : [];
      } catch (e) {
        return [];
      }
      return products || [];
    }

    function productRow(list) {
      const n = $('#u-products').children.length + 1;
      const what = list.length
        ? h('select', { class: 'p-code', 'aria-label': '产品 ' + n },
          h('option', { value: '', text: '选择产品' }),
          ...list.map((p) => h('option', { value: p.code, text: p.name || p.code })))
        : h('input', { type: 'text', class: 'p-code', maxlength: 32, spellcheck: 'false', placeholder: '产品代码', 'aria-label': '产品代码 ' + n });
      const amount = h('input', { type: 'text', class: 'p-amount', inputmode: 'decimal', maxlength: 10, placeholder: '金额（万元）', 'aria-label': '产品 ' + n + ' 金额（万元）' });
      const li = h('li', null, what, amount,
        h('button', { type: 'button', class: 'small danger', 'aria-label': '删除产品 ' + n, onclick: () => li.remove() }, '删除'));
      return li;
    }

    async function openUpgrade(from) {
      if (!member) return;
      const form = openForm('#upgrade-form');
      if (!form) {
        upgradeFrom = null;
        return;
      }
      upgradeFrom = from || null;
      $('#u-source').textContent = upgradeFrom && upgradeFrom.signup_id
        ? '本次签到的客人 ' + (member.name || '') + (upgradeFrom.event_title ? '，活动「' + upgradeFrom.event_title + '」' : '') + '。'
        : '会员 ' + (member.name || '') + '（' + member.member_no + '），当前等级 ' + (member.tier || '') + '。';
      /* the next tier up (a trial counts as the tier it grants) */
      const tier = member.tier || '';
      $('#u-tier').value = tier.startsWith('长尾') ? '潜力' : /^(中高端|财私)/.test(tier) ? '财私' : '中高端';
      await loadProducts();
    }

    $('#m-upgrade-open').addEventListener('click', () => openUpgrade(upgradeFrom && upgradeFrom.member_no === (member && member.member_no) ? upgradeFrom : null));

    $('#u-add-product').addEventListener('click', async () => {
      const list = await loadProducts();
      const row = productRow(list);
      $('#u-products').append(row);
      row.querySelector('.p-code').focus();
    });

    $('#upgrade-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!member) return;
      const form = $('#upgrade-form');
      for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      const aum = wan($('#u-aum').value);
      if (!Number.isFinite(aum)) fieldError($('#u-aum'), $('#ue-aum'), '请填写客人承诺转入的资产，单位万元（如 20）');
      const items = [];
      for (const li of $('#u-products').children) {
        const code = li.querySelector('.p-code').value.trim();
        const amountInput = li.querySelector('.p-amount');
        if (!code && !amountInput.value.trim()) continue;
        const amount = wan(amountInput.value);
        if (!code) fieldError(li.querySelector('.p-code'), $('#ue-products'), '请选择产品，或删除这一行');
        else if (!Number.isFinite(amount)) fieldError(amountInput, $('#ue-products'), '请填写产品金额，单位万元');
        else items.push({ code, amount });
      }
      const bad = form.querySelector('[aria-invalid]');
      if (bad) {
        bad.focus();
        return;
      }
      const body = {
        pledged_aum: aum,
        target_tier: $('#u-tier').value,
        products: items,
        mode: (form.querySelector('input[name="mode"]:checked') || {}).value || 'onsite',
      };
      if (upgradeFrom && upgradeFrom.signup_id && upgradeFrom.member_no === member.member_no) body.signup_id = upgradeFrom.signup_id;
      else body.member_no = member.member_no;
      const button = $('#upgrade-submit');
      button.disabled = true;
      let r;
      try {
        r = await call('POST', '/api/v1/upgrades', body);
      } catch (err) {
        $('#upgrade-error').textContent = '无法连接服务器，没有登记。请检查 Wi-Fi 后再试。';
        return;
      } finally {
        button.disabled = false;
      }
      if (!r) return;
      if (r.ok) {
        const m = member;
        closeForms();
        upgradeFrom = null;
        $('#member-done').textContent = '已登记：' + (m.name || '') + ' 升级为 ' + body.target_tier + '，承诺资产 ' + money(aum) +
          '（' + MODES[body.mode] + '）。等待行长审批。';
        if (isManager()) loadApprovals();
        return;
      }
      const f = (r.error && r.error.fields) || {};
      if (r.status === 422 && f.pledged_aum) fieldError($('#u-aum'), $('#ue-aum'), '承诺资产不正确，请填写大于 0 的金额（万元）');
      else if (r.error && r.error.code === 'product_not_found') $('#ue-products').textContent = refusal(r, 'upgrade');
      else if (r.status === 422 && f.products) $('#ue-products').textContent = '产品或金额不正确（每个产品只能填一次，最多16个），请检查';
      else if (r.status === 422 && f.target_tier) $('#upgrade-error').textContent = '这位客人已达到所选等级，请选择更高的等级。';
      else $('#upgrade-error').textContent = refusal(r, 'upgrade');
    });

    /* --- after a check-in: the member's tier and points, and the way on --- */

    let last = null; /* {member_no, signup_id, name, event_title} */

    function afterCheckin(d, eventTitle) {
      if (!d || !d.member) {
        last = null;
        $('#last-member').hidden = true;
        return;
      }
      const m = d.member;
      last = { member_no: m.member_no, signup_id: d.signup_id, name: d.name, event_title: eventTitle };
      $('#last-member-info').textContent = (d.name || '') + ' · ' + (m.tier || '') + ' · 积分 ' + K.num(m.balance) +
        (m.earned ? '（本次 +' + K.num(m.earned) + '）' : '');
      $('#last-member').hidden = false;
    }

    function forgetLast() {
      last = null;
      $('#last-member').hidden = true;
      $('#last-member-info').textContent = '';
    }

    async function openLast(upgrade) {
      if (!last) return;
      const l = last;
      const ok = await lookup(l.member_no);
      if (!ok) return;
      $('#member-card').scrollIntoView({ block: 'start' });
      if (upgrade) await openUpgrade({ member_no: l.member_no, signup_id: l.signup_id, event_title: l.event_title });
    }

    $('#last-member-points').addEventListener('click', () => openLast(false));
    $('#last-member-upgrade').addEventListener('click', () => openLast(true));

    /* --- the manager's approvals queue (行长审批) --- */

    function approvalRow(u) {
      const named = (code) => ((products || []).find((p) => p.code === code) || {}).name || code;
      const prods = (u.products || []).map((p) => named(p.code) + ' ' + money(p.amount)).join('、');
      const approve = h('button', { type: 'button', class: 'primary', 'aria-label': '批准 ' + u.name + ' 的升级' }, '批准');
      const reject = h('button', { type: 'button', class: 'danger', 'aria-label': '驳回 ' + u.name + ' 的升级' }, '驳回');
      const reasonInput = h('input', { type: 'text', maxlength: 200, placeholder: '如 资产证明不全', 'aria-label': '驳回原因' });
      const reasonErr = h('p', { class: 'field-error', 'aria-live': 'polite' });
      const confirmReject = h('button', { type: 'submit', class: 'danger' }, '确认驳回');
      const reasonForm = h('form', { class: 'reject-form', hidden: true, novalidate: true },
        h('label', { text: '驳回原因（必填）' }), reasonInput, confirmReject,
        h('button', { type: 'button', onclick: () => {
          reasonForm.hidden = true;
          reasonInput.value = '';
          reasonErr.textContent = '';
        } }, '不驳回'), reasonErr);
      const li = h('li', { 'data-upgrade': u.id },
        h('div', { class: 'ap-main' },
          h('p', { class: 'ap-who' }, h('strong', { text: u.name || '' }), ' ', h('span', { class: 'member-no', text: '会员号 ' + u.member_no })),
          h('p', { class: 'ap-tier', text: (u.tier || '') + ' → ' + (u.target_tier || '') }),
          h('p', { class: 'ap-detail', text: '承诺资产 ' + money(u.pledged_aum) + ' · ' + (MODES[u.mode] || '') +
            (prods ? ' · ' + prods : '') + (u.created_at ? ' · 登记于 ' + K.ymdhm(u.created_at) : '') })),
        h('div', { class: 'ap-actions' }, approve, reject),
        reasonForm);
      approve.addEventListener('click', () => K.armed(approve, '确认批准', () => decide(u, 'approve', null, li)));
      reject.addEventListener('click', () => {
        reasonForm.hidden = false;
        reasonInput.focus();
      });
      reasonForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const reason = reasonInput.value.trim();
        if (!reason) {
          reasonErr.textContent = '请填写驳回原因，客户经理会据此跟进';
          reasonInput.setAttribute('aria-invalid', 'true');
          reasonInput.focus();
          return;
        }
        decide(u, 'reject', reason, li);
      });
      return li;
    }

    async function decide(u, what, reason, li) {
      const status = $('#approvals-status');
      for (const b of li.querySelectorAll('button')) b.disabled = true;
      let r;
      try {
        r = await call('POST', '/api/v1/upgrades/' + encodeURIComponent(u.id) + '/' + what, what === 'reject' ? { reason } : {});
      } catch (e) {
        for (const b of li.querySelectorAll('button')) b.disabled = false;
        status.textContent = '无法连接服务器，没有' + (what === 'approve' ? '批准' : '驳回') + '。请稍后再试。';
        return;
      }
      if (!r) return;
      if (r.ok) {
        li.remove();
        const d = r.data || {};
        status.textContent = what === 'approve'
          ? '已批准 ' + (u.name || '') + ' 升级为 ' + (u.target_tier || '') + '。' +
            (d.tier ? '现在的等级：' + d.tier + '。' : '') + (d.points ? '新增业务积分 +' + K.num(d.points) + '。' : '')
          : '已驳回 ' + (u.name || '') + ' 的升级登记。';
        if (!$('#approvals').children.length) $('#approvals').hidden = true;
        if (member && member.member_no === u.member_no) reload();
        return;
      }
      for (const b of li.querySelectorAll('button')) b.disabled = false;
      status.textContent = refusal(r, 'approval');
      if (r.status === 404 || r.status === 409) loadApprovals();
    }

    async function loadApprovals() {
      clearTimeout(approvalsTimer);
      if (!isManager()) return;
      const status = $('#approvals-status');
      await loadProducts(); /* the products' names for the lines */
      let r;
      try {
        r = await call('GET', '/api/v1/upgrades?status=registered');
      } catch (e) {
        status.textContent = '无法连接服务器，待审批列表暂时无法刷新。';
        approvalsTimer = setTimeout(loadApprovals, APPROVALS_MS);
        return;
      }
      if (!r) return;
      approvalsTimer = setTimeout(loadApprovals, APPROVALS_MS);
      if (!r.ok || !r.data || !Array.isArray(r.data.upgrades)) {
        status.textContent = r.status === 404 ? '本机的签到服务器还不能办理升级审批。' : '待审批列表暂时无法读取，请稍后刷新。';
        return;
      }
      /* a reason being typed is not thrown away by the periodic refresh */
      const typing = $('#approvals').querySelector('.reject-form:not([hidden]) input');
      if (typing && typing.value && document.activeElement === typing) return;
      const list = r.data.upgrades;
      $('#approvals').replaceChildren(...list.map(approvalRow));
      $('#approvals').hidden = list.length === 0;
      status.textContent = list.length ? '共 ' + list.length + ' 份待审批。' : '没有待审批的升级登记。';
    }

    function clearApprovals() {
      clearTimeout(approvalsTimer);
      $('#approvals').replaceChildren();
      $('#approvals').hidden = true;
      $('#approvals-status').textContent = '';
    }

    $('#approvals-refresh').addEventListener('click', loadApprovals);

    return {
      afterCheckin,
      forgetLast,
      /* a new session: the manager's queue; nothing of the last person stays */
      start() {
        clear();
        forgetLast();
        setStatus('');
        clearApprovals();
        if (isManager()) loadApprovals();
      },
      stop() {
        clear();
        forgetLast();
        setStatus('');
        $('#member-q').value = '';
        clearApprovals();
      },
    };
  };
})();
