// The API reference page: reads /api/v1/openapi.json and renders every operation, grouped by
// tag, with its parameters, body and answers. Text only goes through textContent (the document is
// data, never markup), and nothing runs inline, so the page keeps a strict CSP.
'use strict';

(function () {
  var DOCUMENT_URL = '/api/v1/openapi.json';

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    var attrs = attributes || {};
    Object.keys(attrs).forEach(function (name) {
      if (name === 'text') node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function slug(text) {
    return String(text).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  }

  function refName(ref) {
    return ref.replace('#/components/schemas/', '');
  }

  // A schema as a short type: `string`, `[Plan]`, `string | null`, `{…}`
  function typeOf(schema) {
    if (!schema || typeof schema !== 'object') return 'any';
    if (schema.$ref) return refName(schema.$ref);
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map(function (v) { return JSON.stringify(v); }).join(' | ');
    if (schema.anyOf || schema.oneOf) return (schema.anyOf || schema.oneOf).map(typeOf).join(' | ');
    if (schema.type === 'array') return '[' + typeOf(schema.items) + ']';
    if (schema.type === 'object' && !schema.properties) return schema.additionalProperties && schema.additionalProperties !== true ? '{string: ' + typeOf(schema.additionalProperties) + '}' : 'object';
    if (schema.type === 'object') return 'object';
    if (Array.isArray(schema.type)) return schema.type.join(' | ');
    var type = schema.type || 'any';
    if (schema.format) type += ' (' + schema.format + ')';
    return type;
  }

  function constraints(schema) {
    var out = [];
    if (!schema || typeof schema !== 'object') return out;
    if (schema.minLength !== undefined) out.push('min length ' + schema.minLength);
    if (schema.maxLength !== undefined) out.push('max length ' + schema.maxLength);
    if (schema.minimum !== undefined && schema.minimum > -9007199254740991) out.push('≥ ' + schema.minimum);
    if (schema.maximum !== undefined && schema.maximum < 9007199254740991) out.push('≤ ' + schema.maximum);
    if (schema.minItems !== undefined) out.push('at least ' + schema.minItems);
    if (schema.maxItems !== undefined) out.push('at most ' + schema.maxItems);
    if (schema.default !== undefined) out.push('default ' + JSON.stringify(schema.default));
    return out;
  }

  // The fields of an object schema (following one level of array and nullable), as a table
  function schemaView(schema) {
    var target = schema;
    var wrapper = '';
    if (target && target.anyOf) {
      var nonNull = target.anyOf.filter(function (s) { return s.type !== 'null'; });
      if (nonNull.length === 1) { target = nonNull[0]; wrapper = ' or null'; }
    }
    if (target && target.type === 'array' && target.items) { wrapper = 'a list of'; target = target.items; }
    var box = el('div', { class: 'schema' });
    if (target && target.$ref) {
      box.appendChild(el('p', {}, [wrapper === 'a list of' ? 'A list of ' : '', el('a', { href: '#schema-' + slug(refName(target.$ref)), text: refName(target.$ref) }), wrapper === ' or null' ? ', or null' : '']));
      return box;
    }
    if (!target || !target.properties) {
      box.appendChild(el('p', {}, [el('code', { text: typeOf(schema) })]));
      return box;
    }
    if (wrapper) box.appendChild(el('p', { text: wrapper === 'a list of' ? 'A list of objects:' : 'An object, or null:' }));
    box.appendChild(fieldsTable(target));
    return box;
  }

  function fieldsTable(schema) {
    var required = schema.required || [];
    var rows = Object.keys(schema.properties).map(function (name) {
      var field = schema.properties[name];
      var type = el('code', { text: typeOf(field) });
      var typeCell = el('td', {}, [type]);
      var ref = field.$ref || (field.items && field.items.$ref) || (field.anyOf && field.anyOf.map(function (s) { return s.$ref || (s.items && s.items.$ref); }).filter(Boolean)[0]);
      if (ref) {
        typeCell = el('td', {}, [el('a', { href: '#schema-' + slug(refName(ref)) }, [type])]);
      }
      var notes = [field.description].concat(constraints(field)).filter(Boolean).join('; ');
      var nested = field.type === 'object' && field.properties ? fieldsTable(field) : field.type === 'array' && field.items && field.items.properties ? fieldsTable(field.items) : null;
      return el('tr', {}, [
        el('td', {}, [el('code', { text: name })]),
        typeCell,
        el('td', { text: required.indexOf(name) >= 0 ? 'yes' : '' }),
        el('td', {}, [notes, nested]),
      ]);
    });
    var strict = schema.additionalProperties === false ? el('caption', { text: 'no other fields' }) : null;
    return el('table', { class: 'fields' }, [
      strict,
      el('thead', {}, [el('tr', {}, [el('th', { text: 'field' }), el('th', { text: 'type' }), el('th', { text: 'required' }), el('th', { text: 'notes' })])]),
      el('tbody', {}, rows),
    ]);
  }

  function parametersView(parameters) {
    var rows = parameters.map(function (p) {
      var notes = [p.description].concat(constraints(p.schema)).filter(Boolean).join('; ');
      return el('tr', {}, [
        el('td', {}, [el('code', { text: p.name })]),
        el('td', { text: p.in }),
        el('td', {}, [el('code', { text: typeOf(p.schema) })]),
        el('td', { text: p.required ? 'yes' : '' }),
        el('td', { text: notes }),
      ]);
    });
    return el('table', { class: 'fields' }, [
      el('thead', {}, [el('tr', {}, [el('th', { text: 'name' }), el('th', { text: 'in' }), el('th', { text: 'type' }), el('th', { text: 'required' }), el('th', { text: 'notes' })])]),
      el('tbody', {}, rows),
    ]);
  }

  function paragraphs(text) {
    return String(text || '')
      .split(/\n\n+/)
      .filter(Boolean)
      .map(function (p) { return el('p', { text: p }); });
  }

  function operationView(path, method, op) {
    var id = 'op-' + (op.operationId || slug(method + ' ' + path));
    var section = el('section', { class: 'operation', id: id, 'data-search': [method, path, op.summary, (op.tags || []).join(' ')].join(' ').toLowerCase() });
    section.appendChild(el('h3', {}, [el('span', { class: 'method method-' + method, text: method.toUpperCase() }), ' ', el('code', { class: 'path', text: path })]));
    section.appendChild(el('p', { class: 'summary', text: op.summary || '' }));
    paragraphs(op.description).forEach(function (p) { section.appendChild(p); });
    if (op.parameters && op.parameters.length) {
      section.appendChild(el('h4', { text: 'Parameters' }));
      section.appendChild(parametersView(op.parameters));
    }
    if (op.requestBody) {
      section.appendChild(el('h4', { text: 'Request body (application/json)' }));
      section.appendChild(schemaView(op.requestBody.content['application/json'].schema));
    }
    section.appendChild(el('h4', { text: 'Answers' }));
    var list = el('dl', { class: 'responses' });
    Object.keys(op.responses).forEach(function (status) {
      var response = op.responses[status];
      var content = response.content || {};
      var type = Object.keys(content)[0];
      list.appendChild(el('dt', {}, [el('span', { class: 'status status-' + String(status).charAt(0), text: status }), type ? ' ' + type : '']));
      var dd = el('dd', {}, [el('p', { text: response.description || '' })]);
      if (type === 'application/json') dd.appendChild(schemaView(content[type].schema));
      list.appendChild(dd);
    });
    section.appendChild(list);
    return section;
  }

  function render(doc) {
    var main = document.getElementById('main');
    var nav = document.getElementById('nav');
    main.textContent = '';
    nav.textContent = '';
    var intro = el('section', { class: 'intro' }, paragraphs(doc.info && doc.info.description));
    intro.appendChild(el('p', {}, ['Version ', el('code', { text: (doc.info && doc.info.version) || '' }), ' — base URL ', el('code', { text: (doc.servers && doc.servers[0] && doc.servers[0].url) || '/' })]));
    main.appendChild(intro);

    var byTag = {};
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var tag = (op.tags && op.tags[0]) || 'other';
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    Object.keys(byTag).sort().forEach(function (tag) {
      var group = el('section', { class: 'tag', id: 'tag-' + slug(tag) }, [el('h2', { text: tag })]);
      var links = el('ul');
      byTag[tag].forEach(function (entry) {
        var view = operationView(entry.path, entry.method, entry.op);
        group.appendChild(view);
        links.appendChild(el('li', { 'data-target': view.id }, [el('a', { href: '#' + view.id }, [el('span', { class: 'method method-' + entry.method, text: entry.method.toUpperCase() }), ' ' + entry.path])]));
      });
      main.appendChild(group);
      nav.appendChild(el('h2', {}, [el('a', { href: '#tag-' + slug(tag), text: tag })]));
      nav.appendChild(links);
    });

    var schemas = (doc.components && doc.components.schemas) || {};
    var models = el('section', { class: 'tag', id: 'schemas' }, [el('h2', { text: 'Schemas' })]);
    Object.keys(schemas).sort().forEach(function (name) {
      var schema = schemas[name];
      var box = el('section', { class: 'model', id: 'schema-' + slug(name) }, [el('h3', {}, [el('code', { text: name })])]);
      paragraphs(schema.description).forEach(function (p) { box.appendChild(p); });
      box.appendChild(schema.properties ? fieldsTable(schema) : el('p', {}, [el('code', { text: typeOf(schema) })]));
      models.appendChild(box);
    });
    main.appendChild(models);
    nav.appendChild(el('h2', {}, [el('a', { href: '#schemas', text: 'Schemas' })]));
    document.body.setAttribute('data-operations', String(main.querySelectorAll('section.operation').length));
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target) target.scrollIntoView();
    }
  }

  function filter(text) {
    var needle = text.trim().toLowerCase();
    document.querySelectorAll('section.operation').forEach(function (section) {
      var show = !needle || section.getAttribute('data-search').indexOf(needle) >= 0;
      section.hidden = !show;
      var link = document.querySelector('li[data-target="' + section.id + '"]');
      if (link) link.hidden = !show;
    });
  }

  function start() {
    document.getElementById('filter').addEventListener('input', function (event) { filter(event.target.value); });
    fetch(DOCUMENT_URL, { headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error(DOCUMENT_URL + ' answered ' + res.status);
        return res.json();
      })
      .then(render)
      .catch(function (error) {
        var status = document.getElementById('status');
        if (status) status.textContent = 'Could not load the OpenAPI document: ' + error.message;
      });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
