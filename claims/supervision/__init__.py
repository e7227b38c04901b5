"""Fund supervision (基金监管, DOMAIN §7): the screening rules and their runs, cases, and the supervisors' pages
(views, urls, selectors, tasks)."""
