'use strict';
// The saved-object shapes Kibana 8.19 imports and exports (one JSON object a line). Read from Kibana's
// type definitions, not copied: the dashboard, visualization and search types and the data view.
//
// coreMigrationVersion is 8.8.0 for every type since 8.8 (the last core-wide migration).
// typeMigrationVersion is the newest migration the object is already in: for a type with model versions
// (dashboard, search), model version N is written as 10.N.0. A value newer than the running Kibana
// knows is refused on import; an older one is upgraded (the later model versions here add optional
// attributes or mappings only, no data transform).
const MIGRATION = Object.freeze({
  'index-pattern': '8.0.0',   // the last legacy migration of data views
  visualization: '8.5.0',     // the last legacy migration of visualizations
  search: '10.5.0',           // model version 5 (density); 6 (Discover tabs) came in 9.2, not 8.19
  // model version 3 (sections): collapsible sections were backported to 8.19 (elastic/kibana#222103),
  // and their saved-object version is #222450; 4 (accessControl) is 9.x only
  dashboard: '10.3.0',
});
const CORE_MIGRATION_VERSION = '8.8.0';
const EMPTY_SEARCH_SOURCE = JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] });

function savedObject(type, id, attributes, references = []) {
  return {
    attributes,
    coreMigrationVersion: CORE_MIGRATION_VERSION,
    id,
    managed: false,
    references,
    type,
    typeMigrationVersion: MIGRATION[type],
  };
}

function dataView(id, { title, name, sourceFilters = [] }) {
  return savedObject('index-pattern', id, {
    allowHidden: false,
    fieldAttrs: '{}',
    fieldFormatMap: '{}',
    fields: '[]',
    name,
    runtimeFieldMap: '{}',
    sourceFilters: JSON.stringify(sourceFilters.map((value) => ({ value }))),
    title,
    typeMeta: '{}',
  });
}

// A Vega visualization: Kibana keeps the spec as a string (HJSON, so comments are allowed) in
// visState.params.spec. The spec names its index itself, so the object has no references.
function vegaVisualization(id, { title, description, spec }) {
  return savedObject('visualization', id, {
    description,
    kibanaSavedObjectMeta: { searchSourceJSON: EMPTY_SEARCH_SOURCE },
    title,
    uiStateJSON: '{}',
    version: 1,
    visState: JSON.stringify({ title, type: 'vega', aggs: [], params: { spec } }),
  });
}

// A Discover saved search whose filters are Query DSL ("Edit as Query DSL" in the filter bar).
function savedSearch(id, { title, description, dataViewId, columns, sort, filters }) {
  const filterJson = filters.map((f, i) => ({
    meta: {
      alias: f.alias,
      disabled: false,
      negate: false,
      type: 'custom',
      key: 'query',
      value: JSON.stringify(f.query),
      indexRefName: `kibanaSavedObjectMeta.searchSourceJSON.filter[${i}].meta.index`,
    },
    query: f.query,
    $state: { store: 'appState' },
  }));
  const references = [
    { id: dataViewId, name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern' },
    ...filters.map((_, i) => ({
      id: dataViewId, name: `kibanaSavedObjectMeta.searchSourceJSON.filter[${i}].meta.index`, type: 'index-pattern',
    })),
  ];
  return savedObject('search', id, {
    columns,
    description,
    grid: {},
    hideChart: true,
    isTextBasedQuery: false,
    kibanaSavedObjectMeta: {
      searchSourceJSON: JSON.stringify({
        query: { query: '', language: 'kuery' },
        highlightAll: true,
        filter: filterJson,
        indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index',
      }),
    },
    sort,
    timeRestore: false,
    title,
  }, references);
}

// A dashboard of panels by reference. panels: [{ object, x, y, w, h }] on Kibana's 48-column grid.
// Each panel refers to its object through panelRefName "panel_<i>" and a reference "<i>:panel_<i>",
// the names Kibana's dashboard reference extraction writes.
function dashboard(id, { title, description, panels }) {
  const panelsJson = panels.map((p, n) => {
    const i = String(n + 1);
    return {
      type: p.object.type,
      gridData: { x: p.x, y: p.y, w: p.w, h: p.h, i },
      panelIndex: i,
      embeddableConfig: { enhancements: {} },
      panelRefName: `panel_${i}`,
      version: '8.19.0',
    };
  });
  const references = panels.map((p, n) => ({ id: p.object.id, name: `${n + 1}:panel_${n + 1}`, type: p.object.type }));
  return savedObject('dashboard', id, {
    description,
    kibanaSavedObjectMeta: { searchSourceJSON: EMPTY_SEARCH_SOURCE },
    optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
    panelsJSON: JSON.stringify(panelsJson),
    timeRestore: false,
    title,
    version: 1,
  }, references);
}

// What each type must carry for Kibana 8.19 to import it and open it (checked by test.js).
const REQUIRED_ATTRIBUTES = Object.freeze({
  'index-pattern': ['title', 'name', 'fields', 'sourceFilters'],
  visualization: ['title', 'visState', 'uiStateJSON', 'description', 'kibanaSavedObjectMeta'],
  search: ['title', 'columns', 'sort', 'grid', 'hideChart', 'isTextBasedQuery', 'kibanaSavedObjectMeta'],
  dashboard: ['title', 'panelsJSON', 'optionsJSON', 'timeRestore', 'kibanaSavedObjectMeta'],
});

module.exports = {
  MIGRATION, CORE_MIGRATION_VERSION, REQUIRED_ATTRIBUTES,
  dataView, vegaVisualization, savedSearch, dashboard,
};
